"""Set: hot-redis regressions, server-side algebra, values, bad input, wrong types, transactions."""

from __future__ import annotations

import collections.abc

import pytest

import hotsync
from hotsync import Set, TransactionError, WrongTypeError, transaction

A = {"wagwaan", "hot", "skull"}
B = {"wagwaan", "flute", "don"}
C = {"wagwaan", "worldstar", "hiphop"}

# -- the hot-redis regression table (research/hot-redis.md §5.2) -------------------------


def test_pop_on_an_empty_set_raises_key_error(client):
    with pytest.raises(KeyError, match="pop from an empty set"):
        Set(client=client).pop()
    s = Set({1}, client=client)
    assert s.pop() == 1
    with pytest.raises(KeyError):
        s.pop()


@pytest.mark.parametrize("as_set", [False, True])
def test_symmetric_difference_update_updates_the_set(client, as_set):
    s = Set(A, client=client)
    other = Set(B, client=client) if as_set else B
    s.symmetric_difference_update(other)
    assert s == A ^ B == {"hot", "skull", "flute", "don"}
    s ^= Set(B, client=client) if as_set else B
    assert s == A


@pytest.mark.parametrize("as_set", [False, True])
def test_intersection_update_with_two_disjoint_arguments_empties_the_set(client, as_set):
    s = Set({"x", "y"}, client=client)
    args = (Set({"x"}, client=client), Set({"y"}, client=client)) if as_set else ({"x"}, {"y"})
    s.intersection_update(*args)
    assert s == set() and len(s) == 0


@pytest.mark.parametrize("mix", [(False, False), (False, True), (True, False), (True, True)])
def test_upstream_algebra_cases_hold_for_every_mix_of_plain_and_hotsync_sets(client, mix):
    b = Set(B, client=client) if mix[0] else B
    c = Set(C, client=client) if mix[1] else C
    s = Set(A, client=client)
    assert s.intersection(b, c) == {"wagwaan"}
    assert s.difference(b, c) == {"hot", "skull"}
    assert s.union(b, c) == A | B | C
    s.intersection_update(b, c)
    assert s == {"wagwaan"}
    s.value = A
    s.difference_update(b, c)
    assert s == {"hot", "skull"}
    s.value = A
    s.update(b, c)
    assert s == A | B | C
    assert A.symmetric_difference(Set(B, client=client)) == A ^ B  # a Set is an iterable for set's methods


def test_update_with_nothing_or_empty_sets_is_a_no_op(client):
    s = Set({1}, client=client)
    s.update()
    s.update(set(), [])
    s |= set()
    s.difference_update()
    s.intersection_update()
    assert s == {1}
    empty = Set(set(), client=client)
    assert empty == set() and not client.redis.exists(empty._main)


def test_values_round_trip_with_their_types(client):
    members = {1, "1", None, 1.5, (1, "x"), ("nested", (2,))}
    s = Set(members, client=client)
    assert s.value == members
    assert (1, "x") in s and "1" in s and 2 not in s
    assert Set({b"\xff"}, client=client, codec="bytes").value == {b"\xff"}


def test_members_are_compared_by_encoding(client):
    s = Set(client=client)
    s.add(1)
    s.add(1.0)
    s.add(True)
    assert len(s) == 3  # a Python set would hold one
    assert 1 in s and 1.0 in s and 2.0 not in s


def test_algebra_with_sets_in_the_same_slot_runs_in_redis(client, raw):
    a, b = Set({1, 2, 3}, client=client), Set({2, 3, 4}, client=client)
    raw.config_resetstat()
    assert a | b == {1, 2, 3, 4} and a & b == {2, 3} and a - b == {1}
    stats = raw.info("commandstats")
    assert {"cmdstat_sunion", "cmdstat_sinter", "cmdstat_sdiff"} <= stats.keys()
    assert "cmdstat_smembers" not in stats  # no operand was read to the client


def test_operands_on_another_client_or_codec_are_read_first(client, redis_url, prefix):
    other_client = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    a = Set({1, 2}, client=client)
    b = Set({2, 3}, client=other_client)
    c = Set({"2", "3"}, client=client, codec="str")
    assert a & b == {2} and a | c == {1, 2, "2", "3"}
    a |= b
    assert a == {1, 2, 3}
    a -= c
    assert a == {1, 2, 3}
    other_client.close()


def test_set_is_a_mutable_set_that_equals_plain_sets(client):
    s = Set({1}, client=client)
    assert isinstance(s, collections.abc.MutableSet)
    assert s == {1} and {1} == s and s == frozenset({1}) and s != {2} and s != [1]
    assert s == Set({1}, client=client) and s != Set({1, 2}, client=client)
    assert type(s.copy()) is set and type(s | {2}) is set and type(frozenset({2}) | s) is frozenset
    with pytest.raises(TypeError, match="unhashable"):
        hash(s)
    assert repr(Set(key="k", client=client)) == "<hotsync.Set key='k'>"


def test_initial_replaces_what_the_key_held(client):
    Set({1, 2}, key="k", client=client)
    assert Set({3}, key="k", client=client) == {3}
    assert Set(key="k", client=client) == {3}


# -- bad input ---------------------------------------------------------------------------

BAD = object()


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.add(BAD),
        lambda s: s.add([1]),
        lambda s: s.update({4}, [BAD]),
        lambda s: s.update([[1]]),
        lambda s: s.update(5),
        lambda s: setattr(s, "value", {4, BAD}),
        lambda s: s.__ior__([4]),
        lambda s: s.symmetric_difference_update({4}, {5}),
        lambda s: s.remove([1]),
        lambda s: [1] in s,
    ],
)
def test_bad_members_and_operands_raise_type_error_before_any_write(client, operation):
    s = Set({1, 2}, client=client)
    with pytest.raises(TypeError):
        result = operation(s)
        if result is NotImplemented:
            raise TypeError("NotImplemented")
    assert s == {1, 2}


@pytest.mark.parametrize(
    "operation",
    [
        lambda s, o: s.add(1),
        lambda s, o: len(s),
        lambda s, o: 1 in s,
        lambda s, o: s.value,
        lambda s, o: setattr(s, "value", {1}),
        lambda s, o: s.clear(),
        lambda s, o: s.update(o),
        lambda s, o: s.intersection_update({1}),
        lambda s, o: s.difference_update(o),
        lambda s, o: s.symmetric_difference_update({1}),
        lambda s, o: o.update(s),
        lambda s, o: o.symmetric_difference_update(s),
        lambda s, o: o.intersection_update(s),
        lambda s, o: o.issubset(s),
    ],
)
def test_a_key_of_another_redis_type_raises_wrong_type_error_and_writes_nothing(client, raw, operation):
    raw.rpush(f"{client.key_prefix}l", "x")
    s = Set(key="l", client=client)
    other = Set({1, 2}, client=client)
    with pytest.raises(WrongTypeError) as info:
        operation(s, other)
    assert isinstance(info.value, TypeError)
    assert raw.lrange(s._main, 0, -1) == [b"x"]
    assert other == {1, 2}


# -- transactions ------------------------------------------------------------------------


def test_transaction_applies_every_write_method_in_one_exec(client):
    s, t = Set({1, 2, 3}, client=client), Set({3, 4}, client=client)
    with transaction(client):
        assert s.add(5) is None
        s.discard(1)
        s.remove(99)  # missing: nothing happens
        s.update({6}, t)
        s.difference_update({2})
        s.symmetric_difference_update({7, 3})
        s.intersection_update({3, 4, 5, 6, 7, 8}, {4, 5, 6, 7})
        s |= {8}
        assert s.pop() is None
    assert len(s) == 4 and s.value < {4, 5, 6, 7, 8}


def test_reads_inside_a_transaction_raise_transaction_error(client):
    s = Set({1}, client=client)
    with transaction(client):
        for read in (len, lambda x: 1 in x, lambda x: x.value, lambda x: x | {2}, lambda x: x <= {1}):
            with pytest.raises(TransactionError):
                read(s)


def test_on_a_cluster_only_sets_in_the_same_slot_are_combined_by_redis(client, raw, monkeypatch):
    # pretend the client is a cluster client: operands must then share a hash slot
    import hotsync.collections.set as set_module

    monkeypatch.setattr(set_module.redis, "RedisCluster", type(client.redis))
    a, same_slot = Set({1, 2}, key="{t}a", client=client), Set({2, 3}, key="{t}b", client=client)
    other_slot = Set({2, 4}, key="elsewhere", client=client)
    raw.config_resetstat()
    assert a & same_slot == {2}
    assert "cmdstat_smembers" not in raw.info("commandstats")
    assert a & other_slot == {2}
    assert "cmdstat_smembers" in raw.info("commandstats")  # read first, combined on the client
    a |= other_slot
    a -= same_slot
    assert a == {1, 4}


class _Unencodable:
    """Hashable, but no codec can store it: never a member."""

    def __hash__(self) -> int:
        return 1


def test_removing_or_intersecting_with_values_the_codec_cannot_encode_acts_as_set(client):
    odd = _Unencodable()
    for op, operand in (("isub", {odd}), ("iand", {odd, 1}), ("difference_update", [odd, object()]),
                        ("intersection_update", [odd, 2])):
        std, hot = {1, 2}, Set({1, 2}, client=client)
        if op.startswith("i") and not op.endswith("update"):
            std = getattr(std, f"__{op}__")(operand)
            hot = getattr(hot, f"__{op}__")(operand)
        else:
            getattr(std, op)(operand)
            getattr(hot, op)(operand)
        assert hot.value == std, op
    with pytest.raises(TypeError):  # adding one is still refused: it could not be stored
        Set({1}, client=client).update([odd])
