"""List: hot-redis regressions, values, construction, bad input, wrong types, transactions."""

from __future__ import annotations

import collections.abc

import pytest

import hotsync
from hotsync import List, TransactionError, WrongTypeError, transaction

# -- the hot-redis regression table (research/hot-redis.md §5.2) -------------------------


def test_slice_with_stop_zero_is_empty_not_the_whole_list(client):
    lst = List([1, 2, 3], client=client)
    assert lst[:0] == []
    assert lst[0:0] == []
    assert lst[2:0] == []


def test_pop_minus_two_returns_the_second_last_element(client):
    lst = List(["a", "b", "c"], client=client)
    assert lst.pop(-2) == "b"
    assert lst == ["a", "c"]


def test_pop_out_of_range_raises_index_error_and_keeps_the_list(client):
    lst = List([1, 2, 3], client=client)
    with pytest.raises(IndexError, match="pop index out of range"):
        lst.pop(99)
    with pytest.raises(IndexError, match="pop index out of range"):
        lst.pop(-4)
    assert lst == [1, 2, 3]
    with pytest.raises(IndexError, match="pop from empty list"):
        List(client=client).pop()
    with pytest.raises(IndexError, match="pop from empty list"):
        List(client=client).pop(3)


def test_insert_at_minus_one_goes_before_the_last_and_past_the_end_appends(client):
    lst, ref = List(["a", "b"], client=client), ["a", "b"]
    for i, v in [(-1, "x"), (99, "y"), (-99, "z"), (2, "w")]:
        lst.insert(i, v)
        ref.insert(i, v)
    assert lst == ref == ["z", "a", "w", "x", "b", "y"]
    empty = List(client=client)
    empty.insert(5, 1)
    assert empty == [1]


def test_extend_with_nothing_and_plus_equals_nothing_are_no_ops(client):
    lst = List([1], client=client)
    lst.extend([])
    lst += []
    lst.extend(iter(()))
    assert lst == [1]
    empty = List(client=client)
    empty += []
    assert empty == [] and not client.redis.exists(empty._main)


def test_reverse_of_more_than_8000_items_reverses_them(client):
    items = list(range(8500))
    lst = List(items, client=client)
    lst.reverse()
    assert lst.value == items[::-1]
    List(client=client).reverse()  # empty: no error


def test_values_round_trip_with_their_types(client):
    values = [1, True, None, [1, "x"], {"a": 1}, 1.5, "1", -0.0, "", "é😀"]
    lst = List(values, client=client)
    assert lst.value == values
    assert [type(v) for v in lst.value] == [type(v) for v in values]
    assert lst[3] == [1, "x"] and lst[0] is not True and lst[1] is True
    raw = List([b"\x00\xff", b""], client=client, codec="bytes")
    assert raw.value == [b"\x00\xff", b""]
    assert client.redis.lrange(lst._main, 0, 1) == [b"1", b"true"]  # readable by other clients


# -- construction, value, equality, repr ------------------------------------------------


def test_initial_replaces_what_the_key_held_and_never_extends(client):
    List([1, 2, 3], key="k", client=client)
    assert List([4], key="k", client=client) == [4]
    assert List(key="k", client=client) == [4]  # no initial: attach
    List([], key="k", client=client)
    assert List(key="k", client=client) == []
    assert not client.redis.exists(f"{client.key_prefix}k")


def test_value_assignment_replaces_atomically_and_keeps_the_ttl(client, raw):
    lst = List([1, 2], client=client)
    raw.pexpire(lst._main, 60_000)
    lst.value = (x for x in "abc")
    assert lst.value == ["a", "b", "c"]
    assert 0 < raw.pttl(lst._main) <= 60_000
    lst.reverse()
    lst.sort()
    lst[0:1] = [1, 2, 3]
    assert 0 < raw.pttl(lst._main) <= 60_000


def test_list_is_a_mutable_sequence_that_equals_plain_lists(client):
    lst = List([1], client=client)
    assert isinstance(lst, collections.abc.MutableSequence)
    assert lst == [1] and [1] == lst and lst != [2] and lst != (1,)
    assert lst == List([1], client=client)
    with pytest.raises(TypeError, match="unhashable"):
        hash(lst)
    assert type(lst.copy()) is list and type(lst + [2]) is list and type(lst * 2) is list


def test_repr_shows_kind_and_key_without_io(client, monkeypatch):
    lst = List(key="jobs", client=client)
    monkeypatch.setattr(client, "perform", lambda call: pytest.fail("repr did I/O"))
    assert repr(lst) == "<hotsync.List key='jobs'>"


def test_generated_keys_are_unique_and_exposed(client):
    a, b = List(client=client), List(client=client)
    assert a.key != b.key and a.key.startswith("hotsync:list:")


def test_elements_are_compared_by_encoding_in_lookups(client):
    lst = List([1, 1.0, True], client=client)
    assert lst.count(1) == 1 and lst.index(True) == 2
    assert object() not in lst and lst.count(object()) == 0
    with pytest.raises(ValueError, match="is not in list"):
        lst.index(object())


def test_sort_is_stable_and_uses_python_ordering(client):
    data = [10, 9, 100, -1, 9]
    lst = List(data, client=client)
    lst.sort()
    assert lst == sorted(data) == [-1, 9, 9, 10, 100]  # not lexicographic
    pairs = [[1, "b"], [0, "a"], [1, "a"], [0, "b"]]
    lst.value = pairs
    lst.sort(key=lambda p: p[0], reverse=True)
    assert lst == sorted(pairs, key=lambda p: p[0], reverse=True)
    with pytest.raises(TypeError, match="takes no positional arguments"):
        lst.sort(len)


def test_sort_of_mixed_types_raises_type_error_and_writes_nothing(client):
    lst = List([3, "a", 1], client=client)
    with pytest.raises(TypeError, match="'<' not supported"):
        lst.sort()
    assert lst == [3, "a", 1]


# -- bad input ---------------------------------------------------------------------------


BAD = object()


@pytest.mark.parametrize(
    "operation",
    [
        lambda l: l.append(BAD),
        lambda l: l.extend([4, BAD]),
        lambda l: l.insert(1, BAD),
        lambda l: l.__setitem__(0, BAD),
        lambda l: l.__setitem__(slice(0, 1), [4, BAD]),
        lambda l: l.__setitem__(slice(None, None, 3), [BAD]),
        lambda l: setattr(l, "value", [4, BAD]),
        lambda l: l.__iadd__([BAD]),
        lambda l: l.extend(5),
        lambda l: l.__setitem__(1.5, 1),
        lambda l: l.__imul__(1.5),
    ],
)
def test_unencodable_values_and_bad_arguments_raise_type_error_before_any_write(client, operation):
    lst = List([1, 2, 3], client=client)
    with pytest.raises(TypeError):
        operation(lst)
    assert lst == [1, 2, 3]


def test_extended_slice_of_the_wrong_size_raises_value_error_and_writes_nothing(client):
    lst = List([1, 2, 3, 4], client=client)
    with pytest.raises(ValueError, match="attempt to assign sequence of size 1 to extended slice of size 2"):
        lst[::2] = [9]
    assert lst == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "operation",
    [
        lambda l: l.append(1),
        lambda l: len(l),
        lambda l: l[0],
        lambda l: l[::2],
        lambda l: l.value,
        lambda l: setattr(l, "value", [1]),
        lambda l: l.reverse(),
        lambda l: l.sort(),
        lambda l: l.insert(3, 1),
        lambda l: l.pop(2),
        lambda l: l.__setitem__(slice(1, 2), [1, 2]),
        lambda l: l.__imul__(3),
        lambda l: l.clear(),
        lambda l: 1 in l,
        lambda l: l.index(1, 1),
    ],
)
def test_a_key_of_another_redis_type_raises_wrong_type_error_naming_it(client, raw, operation):
    raw.hset(f"{client.key_prefix}h", "f", "v")
    lst = List(key="h", client=client)
    with pytest.raises(WrongTypeError) as info:
        operation(lst)
    assert isinstance(info.value, TypeError)
    assert info.value.key == lst._main and repr(lst._main) in str(info.value)
    assert raw.hgetall(lst._main) == {b"f": b"v"}  # untouched


# -- transactions ------------------------------------------------------------------------


def test_transaction_applies_every_write_method_in_one_exec(client, redis_url, prefix):
    lst = List(list(range(6)), key="t", client=client)
    other = hotsync.HotClient.from_url(redis_url, key_prefix=prefix, metrics=False)
    ref = list(range(6))
    with transaction(client) as tx:
        assert lst.append(6) is None
        lst.extend([7, 8])
        lst.insert(1, "i")
        assert lst.pop() is None and lst.pop(0) is None and lst.pop(2) is None
        lst.remove(5)
        lst[0] = "s"
        lst[1:3] = ["a", "b", "c"]
        del lst[-1]
        del lst[::3]
        lst.reverse()
        lst *= 2
        lst += ["z"]
        assert List(key="t", client=other) == list(range(6))  # nothing visible yet
    for op in [
        lambda l: l.append(6), lambda l: l.extend([7, 8]), lambda l: l.insert(1, "i"), lambda l: l.pop(),
        lambda l: l.pop(0), lambda l: l.pop(2), lambda l: l.remove(5), lambda l: l.__setitem__(0, "s"),
        lambda l: l.__setitem__(slice(1, 3), ["a", "b", "c"]), lambda l: l.__delitem__(-1),
        lambda l: l.__delitem__(slice(None, None, 3)), lambda l: l.reverse(), lambda l: l.__imul__(2),
        lambda l: l.__iadd__(["z"]),
    ]:  # fmt: skip
        op(ref)
    assert lst == ref
    assert len(tx.results) >= 14
    other.close()


def test_reads_and_sort_inside_a_transaction_raise_transaction_error(client):
    lst = List([2, 1], client=client)
    with transaction(client):
        for read in (len, lambda l: l[0], lambda l: l.value, lambda l: 1 in l, lambda l: l.sort(), list):
            with pytest.raises(TransactionError):
                read(lst)
    assert lst == [2, 1]


def test_failed_conditions_inside_a_transaction_are_no_ops(client):
    lst = List([1], client=client)
    with transaction(client):
        lst.pop(5)
        lst.remove(99)
        del lst[7]
        lst.append(2)
    assert lst == [1, 2]


def test_an_exception_inside_the_transaction_block_discards_the_writes(client):
    lst = List([1], client=client)
    with pytest.raises(RuntimeError):
        with transaction(client):
            lst.append(2)
            raise RuntimeError("boom")
    assert lst == [1]


def _interfere_once(monkeypatch, client, script_name, action):
    """Run ``action`` just before the first call of ``script_name`` reaches Redis."""
    real = client.perform
    done = []

    def perform(call):
        if not done and getattr(getattr(call, "script", None), "name", None) == script_name:
            done.append(True)
            action()
        return real(call)

    monkeypatch.setattr(client, "perform", perform)
    return done


def test_sort_starts_over_when_the_list_changed_after_it_was_read(client, raw, monkeypatch):
    lst = List([3, 1, 2], client=client)
    done = _interfere_once(monkeypatch, client, "list_sort", lambda: raw.rpush(lst._main, b"0"))
    lst.sort()
    assert done and lst == [0, 1, 2, 3]  # the concurrent append survived and was sorted in


def test_sort_gives_up_with_runtime_error_on_a_list_that_never_stops_changing(client, raw, monkeypatch):
    lst = List([2, 1], client=client)
    real = client.perform

    def perform(call):
        if getattr(getattr(call, "script", None), "name", None) == "list_sort":
            raw.rpush(lst._main, b"5")
        return real(call)

    monkeypatch.setattr(client, "perform", perform)
    with pytest.raises(RuntimeError, match="changed during each of"):
        lst.sort()
    assert sorted(lst.value[:2]) == [1, 2] and set(lst.value[2:]) == {5}


def test_an_out_of_range_item_assignment_inside_a_transaction_fails_the_commit(client):
    lst = List([1], client=client)
    with pytest.raises(TransactionError, match="index out of range"):
        with transaction(client):
            lst[5] = 2
    assert lst == [1]
