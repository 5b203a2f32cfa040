"""String and ImmutableString: regressions, raw storage, str methods, bad input, wrong types, transactions."""

from __future__ import annotations

import collections.abc
from collections import UserString

import pytest

from hotsync import ImmutableString, String, TransactionError, WrongTypeError, transaction

from ._seq_parity import same

A = "wagwaan hotskull"
B = "flute don"

# -- the hot-redis regression table and upstream cases -------------------------------------


def test_slice_assignment_with_a_shorter_replacement_drops_the_rest_of_the_slice(client):
    s = String("abcdef", client=client)
    s[0:4] = "X"
    assert s == "Xef"


def test_every_upstream_slice_assignment_matches_list_of_characters_semantics(client):
    for i in range(9):
        for j in range(i, 9):
            s = String(A, client=client)
            s[i:j] = B
            chars = list(A)
            chars[i:j] = list(B)
            assert s == "".join(chars)


def test_text_is_stored_raw_and_round_trips_every_python_string(client, raw):
    for text in ["wagwaan", "", "héllo wörld €", "😀 emoji", "lone \ud800 surrogate", "nul\x00byte"]:
        s = String(text, client=client)
        assert s.value == text and len(s) == len(text) and s[-1:] == text[-1:]
        if text:
            assert raw.get(s._main) == text.encode("utf-8", "surrogatepass")
        else:
            assert not raw.exists(s._main)  # an empty String has no key
    assert raw.get(String("é", client=client)._main) == "é".encode()  # not JSON


def test_indexing_is_by_code_point_not_by_byte(client):
    s = String("héllo", client=client)
    assert len(s) == 5 and s[1] == "é" and s[4] == "o" and s[1:3] == "él"
    with pytest.raises(IndexError, match="string index out of range"):
        s[5]
    s[1] = "e"
    assert s == "hello"
    assert String("abc", client=client)[:0] == "" and String("abc", client=client)[5:3] == ""


def test_plus_equals_and_times_equals_keep_the_key_and_work_on_a_missing_key(client):
    s = String(client=client)
    s *= 3  # missing key: stays empty
    assert s == ""
    key = s.key
    s += "wag"
    s += String("waan", client=client)
    s *= 2
    assert s == "wagwaanwagwaan" and s.key == key
    s *= 0
    assert s == "" and not client.redis.exists(s._main)


def test_mutating_str_methods_store_the_result_and_return_it(client):
    s = String("  Hello World  ", client=client)
    assert s.strip() == "Hello World" and s == "Hello World"
    assert s.upper() == "HELLO WORLD" and s == "HELLO WORLD"
    assert s.replace("L", "l", 1) == "HElLO WORLD" and s == "HElLO WORLD"
    assert s.casefold() == "hello world"
    assert s.zfill(13) == "00hello world"
    s.value = "{x}-{y}"
    assert s.format(x=1, y="b") == "1-b" and s == "1-b"
    s.value = "ß"
    assert s.upper() == "SS" and s == "SS"  # Unicode rules, as str
    s.value = ","
    assert s.join(["a", "b"]) == "a,b" and s == "a,b"


def test_query_str_methods_return_their_result_and_write_nothing(client):
    s = String("a,b,c", client=client)
    assert s.split(",") == ["a", "b", "c"] and s.count(",") == 2 and s.find("b") == 2
    assert s.startswith("a,") and s.partition(",") == ("a", ",", "b,c") and s.isascii()
    assert s.index("c") == 4 and s.encode() == b"a,b,c"
    assert s == "a,b,c"
    assert String.maketrans("a", "b") == str.maketrans("a", "b")


def test_a_failing_str_method_writes_nothing(client):
    s = String("{missing}", client=client)
    with pytest.raises(KeyError):
        s.format()
    with pytest.raises(TypeError):
        s.join([1])
    assert s == "{missing}"


def test_string_is_a_sequence_that_equals_plain_str(client):
    s = String("ab", client=client)
    assert isinstance(s, collections.abc.Sequence) and not isinstance(s, str)
    assert s == "ab" and "ab" == s and s != "b" and s < "b" and "a" < s and s == String("ab", client=client)
    assert str(s) == "ab" and f"{s:>4}" == "  ab" and s + "c" == "abc" and "c" + s == "cab" and s * 2 == "abab"
    assert "%s!" % s == "ab!" and "b" in s and list(s) == ["a", "b"] and list(reversed(s)) == ["b", "a"]
    with pytest.raises(TypeError, match="unhashable"):
        hash(s)
    assert repr(String(key="k", client=client)) == "<hotsync.String key='k'>"


@pytest.mark.parametrize("cls", [String, ImmutableString])
@pytest.mark.parametrize("text", ["12", " -7\n", "1_000", "1.5", "1e3", "inf", "1+2j", "abc", "", "٣"])
def test_int_float_and_complex_parse_the_text_as_they_parse_a_str(client, cls, text):
    s = cls(text, key=f"conv:{cls.__name__}:{text!r}", client=client)
    for convert in (int, float, complex):
        same(lambda: convert(text), lambda: convert(s))
        same(lambda: convert(UserString(text)), lambda: convert(s))


def test_initial_replaces_what_the_key_held(client):
    String("first", key="k", client=client)
    assert String("second", key="k", client=client) == "second"
    assert String(key="k", client=client) == "second"
    String("", key="k", client=client)
    assert String(key="k", client=client) == ""


# -- ImmutableString -----------------------------------------------------------------------


def test_immutable_string_reads_like_str_and_never_writes(client):
    s = ImmutableString("Hello", client=client)
    assert s.upper() == "HELLO" and s.replace("l", "L") == "HeLLo" and s == "Hello"
    with pytest.raises(TypeError, match="does not support item assignment"):
        s[0] = "J"
    with pytest.raises(TypeError, match="doesn't support item deletion|does not support item deletion"):
        del s[0]
    with pytest.raises(AttributeError):
        s.value = "other"
    assert s == "Hello"


def test_immutable_string_in_place_operators_rebind_to_a_plain_str_and_create_no_key(client, raw):
    s = ImmutableString("wag", client=client)
    original = s
    keys_before = set(raw.keys("*"))
    s += "waan"
    assert type(s) is str and s == "wagwaan"
    t = original
    t *= 2
    assert t == "wagwag" and type(t) is str
    assert original == "wag" and set(raw.keys("*")) == keys_before


# -- bad input, wrong types ----------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.__iadd__(1),
        lambda s: s.__iadd__(b"x"),
        lambda s: s.__imul__(1.5),
        lambda s: s.__setitem__(0, 1),
        lambda s: s.__setitem__(slice(0, 1), ["x"]),
        lambda s: s.__setitem__(1.5, "x"),
        lambda s: setattr(s, "value", 5),
        lambda s: s.replace(1, "x"),
    ],
)
def test_non_text_values_and_bad_arguments_raise_type_error_before_any_write(client, operation):
    s = String("abc", client=client)
    with pytest.raises(TypeError):
        operation(s)
    assert s == "abc"


def test_constructor_refuses_non_text_and_foreign_codecs(client):
    with pytest.raises(TypeError):
        String(5, client=client)
    with pytest.raises(ValueError, match="raw UTF-8"):
        String("x", client=client, codec="json")


def test_extended_slice_of_the_wrong_size_raises_value_error(client):
    s = String("abcd", client=client)
    with pytest.raises(ValueError, match="attempt to assign sequence of size 1 to extended slice of size 2"):
        s[::2] = "x"
    with pytest.raises(IndexError, match="string assignment index out of range"):
        s[4] = "x"
    assert s == "abcd"


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.value,
        lambda s: setattr(s, "value", "x"),
        lambda s: len(s),
        lambda s: bool(s),
        lambda s: s.__iadd__("x"),
        lambda s: s.__imul__(2),
        lambda s: s.__setitem__(0, "x"),
        lambda s: s.upper(),
        lambda s: s[0],
    ],
)
def test_a_key_of_another_redis_type_raises_wrong_type_error_and_is_not_overwritten(client, raw, operation):
    raw.rpush(f"{client.key_prefix}l", "x")
    s = String(key="l", client=client)
    with pytest.raises(WrongTypeError) as info:
        operation(s)
    assert info.value.key == s._main
    assert raw.lrange(s._main, 0, -1) == [b"x"]


# -- transactions --------------------------------------------------------------------------


def test_transaction_queues_appends_repeats_and_slice_edits(client):
    s = String("abc", client=client)
    with transaction(client):
        s += "def"
        s[0] = "X"
        del s[1:3]
        s *= 2
        s[99] = "ignored"  # out of range inside a transaction: nothing happens
    assert s == "Xdef" * 2


def test_reads_and_mutating_str_methods_inside_a_transaction_raise(client):
    s = String("abc", client=client)
    with transaction(client):
        for op in (len, str, lambda x: x[0], lambda x: x.upper(), lambda x: x.find("a")):
            with pytest.raises(TransactionError):
                op(s)
    assert s == "abc"


def test_a_mutating_str_method_starts_over_when_the_text_changed_after_it_was_read(client, raw, monkeypatch):
    s = String("abc", client=client)
    real = client.perform
    done = []

    def perform(call):
        if not done and getattr(getattr(call, "script", None), "name", None) == "string_cas":
            done.append(True)
            raw.append(s._main, b"def")  # a concurrent +=
        return real(call)

    monkeypatch.setattr(client, "perform", perform)
    assert s.upper() == "ABCDEF"
    assert done and s == "ABCDEF"
