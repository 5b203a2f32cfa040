from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.cluster import key_slot

import hotsync
from hotsync import _keys


@given(st.text(min_size=1, max_size=30).filter(lambda k: "}" not in k or _keys.hash_tag(k) is not None))
def test_aux_keys_share_the_main_keys_slot(key):
    main = _keys.full_key("", key)
    for suffix in ("fence", "signal", "waiters", "w:some/owner"):
        assert key_slot(_keys.aux(main, suffix).encode()) == key_slot(main.encode())


@pytest.mark.parametrize(
    ("key", "tag"),
    [("a", None), ("{a}", "a"), ("x{a}y", "a"), ("{}", None), ("{}{a}", None), ("a{b}{c}", "b"), ("a{", None)],
)
def test_hash_tag_follows_the_server_rule(key, tag):
    assert _keys.hash_tag(key) == tag


def test_aux_appends_to_tagged_keys_and_wraps_others():
    assert _keys.aux("jobs", "signal") == "{jobs}:signal"
    assert _keys.aux("jobs{7}", "signal") == "jobs{7}:signal"


def test_keys_with_unbalanced_brace_are_rejected_clearly():
    with pytest.raises(ValueError, match="hash tag"):
        _keys.full_key("", "a}b")


def test_empty_and_non_str_keys_are_rejected():
    with pytest.raises(ValueError):
        _keys.full_key("", "")
    with pytest.raises(TypeError):
        _keys.full_key("", 5)


def test_every_lock_key_is_in_one_slot(client):
    lock = hotsync.Lock("orders", client, fair=True)
    keys = [lock._main, lock._fence_key, lock._waiters_key, lock._signal_key, lock._line_key, lock._tickets_key,
            lock._wait_key("h/1/x/t1")]
    assert len({key_slot(k.encode()) for k in keys}) == 1


def test_generated_keys_are_unique_and_exposed(client):
    a, b = hotsync.Lock(client=client), hotsync.Lock(client=client)
    assert a.key != b.key and a.key.startswith("hotsync:lock:")
