from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotsync.codecs import get_codec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@given(json_values)
def test_json_round_trips_types(value):
    codec = get_codec("json")
    assert codec.loads(codec.dumps(value)) == value


def test_json_numbers_stay_redis_numbers():
    codec = get_codec("json")
    assert codec.dumps(5) == b"5" and codec.dumps(2.5) == b"2.5"
    assert codec.loads(b"5") == 5 and type(codec.loads(b"5")) is int


@pytest.mark.parametrize("bad", [object(), {1, 2}, b"bytes"])
def test_json_unencodable_values_raise_type_error(bad):
    with pytest.raises(TypeError, match="cannot encode"):
        get_codec("json").dumps(bad)


def test_str_bytes_and_pickle_codecs():
    assert get_codec("str").loads(get_codec("str").dumps(1)) == "1"
    assert get_codec("bytes").loads(get_codec("bytes").dumps(b"\x00x")) == b"\x00x"
    with pytest.raises(TypeError):
        get_codec("bytes").dumps("text")
    p = get_codec("pickle")
    assert p.loads(p.dumps({1: (2, b"x")})) == {1: (2, b"x")}


def test_custom_codec_objects_and_bad_names():
    class Upper:
        def dumps(self, v):
            return v.upper().encode()

        def loads(self, b):
            return b.decode()

    c = Upper()
    assert get_codec(c) is c
    with pytest.raises(ValueError, match="unknown codec"):
        get_codec("yaml")
    with pytest.raises(TypeError):
        get_codec(42)


def test_json_strings_that_utf8_cannot_encode_raise_type_error():
    with pytest.raises(TypeError, match="cannot encode"):
        get_codec("json").dumps("lone \ud800 surrogate")
