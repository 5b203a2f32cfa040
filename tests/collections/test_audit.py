"""Audit findings: each test pins a builtin behaviour the collections got wrong."""

from __future__ import annotations

import collections
import operator

import pytest

from hotsync import (
    Counter,
    DefaultDict,
    Dict,
    Float,
    Int,
    List,
    Set,
    String,
    TransactionError,
    WrongTypeError,
    transaction,
)

from .test_dict import count_trips

pytestmark = pytest.mark.timeout(60)

LONE_SURROGATE = "\ud800"


@pytest.mark.parametrize(
    "write",
    [
        lambda d: d.__setitem__(LONE_SURROGATE, 1),
        lambda d: d.__setitem__("a", LONE_SURROGATE),
        lambda d: d.update({"ok": 1, LONE_SURROGATE: 2}),
        lambda d: d.setdefault(LONE_SURROGATE, 1),
    ],
)
def test_a_dict_key_or_value_json_cannot_encode_raises_type_error_and_writes_nothing(client, write):
    d = Dict({"x": 1}, key="d", client=client)
    with pytest.raises(TypeError):
        write(d)
    assert d.value == {"x": 1}


def test_looking_up_a_key_json_cannot_encode_answers_like_dict_instead_of_raising(client):
    d = Dict({"x": 1}, key="d", client=client)
    assert LONE_SURROGATE not in d
    assert d.get(LONE_SURROGATE, "default") == "default"
    assert d.pop(LONE_SURROGATE, "default") == "default"
    with pytest.raises(KeyError):
        d[LONE_SURROGATE]


def test_counting_an_element_json_cannot_encode_raises_type_error_and_writes_nothing(client):
    c = Counter("ab", key="c", client=client)
    with pytest.raises(TypeError):
        c.update([LONE_SURROGATE])
    with pytest.raises(TypeError):
        c.update(["a", LONE_SURROGATE])
    assert c[LONE_SURROGATE] == 0
    assert dict(c.value) == {"a": 1, "b": 1}


@pytest.mark.parametrize("cls", [Dict, Counter])
def test_clear_on_a_key_of_another_redis_type_raises_wrong_type_and_deletes_nothing(client, raw, cls):
    raw.set(client.key_prefix + "text", "keep me")
    d = cls(key="text", client=client)
    with pytest.raises(WrongTypeError, match="text"):
        d.clear()
    assert raw.get(client.key_prefix + "text") == b"keep me"


@pytest.mark.parametrize(
    ("start", "operation", "operand", "expected"),
    [
        (5, operator.iand, 2**64 - 1, 5),  # masking to 64 unsigned bits
        (5, operator.iand, 2**70, 0),
        (-1, operator.ior, 2**70, -1),
        (2**63 - 1, operator.iand, 10**39, (2**63 - 1) & 10**39),
        (0, operator.ilshift, 2**70, 0),
        (5, operator.irshift, 2**70, 0),
        (-5, operator.irshift, 2**64, -1),
    ],
)
def test_bitwise_operators_with_an_operand_beyond_64_bits_give_python_s_in_range_result(
    client, start, operation, operand, expected
):
    x = Int(start, key="x", client=client)
    x = operation(x, operand)
    assert x.value == expected == operation(start, operand)


def test_bitwise_results_beyond_64_bits_still_raise_overflow_and_write_nothing(client):
    x = Int(-5, key="x", client=client)
    with pytest.raises(OverflowError):
        x &= 2**64 - 1
    with pytest.raises(OverflowError):
        x ^= 2**70
    with pytest.raises(OverflowError):
        x <<= 2**70
    assert x.value == -5


@pytest.mark.parametrize("cls", [Dict, DefaultDict])
def test_membership_in_values_reads_one_snapshot_and_neither_raises_nor_writes_when_a_key_vanishes(
    client, raw, cls
):
    args = (list,) if cls is DefaultDict else ()
    d = cls(*args, {"a": 1, "b": 2}, key="d", client=client)
    execute = client.execute
    trips = []

    def another_process_deletes_a_after_hkeys(*args, **kwargs):
        trips.append(args[0])
        reply = execute(*args, **kwargs)
        if args[0] in (b"HKEYS", "HKEYS"):
            raw.hdel(client.key_prefix + "d", '"a"')
        return reply

    client.execute = another_process_deletes_a_after_hkeys
    try:
        assert 3 not in d.values()
        assert 2 in d.values()
    finally:
        del client.execute
    assert len(trips) == 2  # one HVALS each
    assert dict(d.value) in ({"a": 1, "b": 2}, {"b": 2})


def test_int_plus_equals_inside_a_transaction_adds_to_a_float_held_by_the_key_like_outside(client):
    Int(5, key="x", client=client).__itruediv__(2)  # another process made the key hold 2.5
    x = Int(key="x", client=client)
    with transaction(client):
        x += 1
        x -= 0  # DECRBY's path too
    assert Float(key="x", client=client).value == 3.5


def test_update_from_a_dict_whose_key_holds_another_type_writes_not_even_the_keywords(client, raw):
    raw.set(client.key_prefix + "text", "not a hash")
    d = Dict({"x": 1}, key="d", client=client)
    with pytest.raises(WrongTypeError):
        d.update(Dict(key="text", client=client), a=1)
    assert d.value == {"x": 1}


def test_update_from_a_colocated_dict_with_keywords_lets_the_keywords_win_in_one_script(client):
    d = Dict({"x": 1, "a": 0}, key="d", client=client)
    other = Dict({"a": 5, "b": 6}, key="o", client=client)
    with count_trips(client) as trips:
        d.update(other, a=7)
    assert len(trips) == 1
    assert d.value == {"x": 1, "a": 7, "b": 6}


NOT_A_MAPPING = [[1], ["a"], "ab", 1, 1.5, None, {"a"}, ("a",), object()]


@pytest.mark.parametrize("operand", NOT_A_MAPPING, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("operation", [operator.iadd, operator.isub, operator.ior, operator.iand])
def test_counter_in_place_operator_with_an_operand_that_is_not_a_mapping_raises_what_counter_raises(
    client, operation, operand
):
    expected = collections.Counter("abb")
    with pytest.raises(Exception) as builtin:
        operation(expected, operand)
    c = Counter("abb", key="c", client=client)
    with pytest.raises(builtin.type):
        operation(c, operand)
    assert c.value == collections.Counter("abb")


def test_counter_or_a_plain_dict_is_the_dict_merge_python_gives(client):
    c = Counter("abb", key="c", client=client)
    expected = collections.Counter("abb") | {"a": 5, "z": "text"}
    got = c | {"a": 5, "z": "text"}
    assert got == expected and type(got) is type(expected) is dict


SECOND_KEY_READS = {
    "Counter.update": lambda c: Counter(key="c", client=c).update(Counter(key="other", client=c)),
    "Counter +=": lambda c: Counter(key="c", client=c).__iadd__(Counter(key="other", client=c)),
    "Counter |=": lambda c: Counter(key="c", client=c).__ior__(Counter(key="other", client=c)),
    "Counter &=": lambda c: Counter(key="c", client=c).__iand__(Counter(key="other", client=c)),
    "Dict.update": lambda c: Dict(key="c", client=c).update(Dict(key="other", client=c)),
    "Int +=": lambda c: Int(key="c", client=c).__iadd__(Int(key="other", client=c)),
    "Set |=": lambda c: Set(key="c", client=c).__ior__(Set(key="other", client=c)),
    "Set &=": lambda c: Set(key="c", client=c).__iand__(Set(key="other", client=c)),
    "Set -=": lambda c: Set(key="c", client=c).__isub__(Set(key="other", client=c)),
    "Set ^=": lambda c: Set(key="c", client=c).__ixor__(Set(key="other", client=c)),
    "Set |": lambda c: Set(key="c", client=c) | Set(key="other", client=c),
    "Set &": lambda c: Set(key="c", client=c) & Set(key="other", client=c),
    "Set -": lambda c: Set(key="c", client=c) - Set(key="other", client=c),
    "Set ^": lambda c: Set(key="c", client=c) ^ Set(key="other", client=c),
    "Set <=": lambda c: Set(key="c", client=c) <= Set(key="other", client=c),
}


@pytest.mark.parametrize("operation", SECOND_KEY_READS.values(), ids=SECOND_KEY_READS.keys())
def test_wrong_type_error_of_an_operation_reading_a_second_object_names_that_object_s_key(client, raw, operation):
    raw.rpush(client.key_prefix + "other", "a list, which no operand may be")
    with pytest.raises(WrongTypeError, match=f"'{client.key_prefix}other'") as err:
        operation(client)
    assert err.value.key == client.key_prefix + "other"
    assert raw.exists(client.key_prefix + "c") == 0


def test_wrong_type_error_of_a_script_inside_a_transaction_names_the_second_object_s_key(client, raw):
    raw.rpush(client.key_prefix + "other", "a list")
    with pytest.raises(TransactionError, match=f"key '{client.key_prefix}other' holds"):
        with transaction(client):
            Set(key="c", client=client).update(Set(key="other", client=client))



def _assign(new):
    return lambda obj: setattr(obj, "value", new)


REPLACEMENTS = {
    "Dict.value =": (lambda c: Dict({"old": 1}, key="k", client=c), _assign({"new": 1})),
    "Dict(initial)": (
        lambda c: Dict({"old": 1}, key="k", client=c),
        lambda d: Dict({"new": 1}, key="k", client=d.client),
    ),
    "DefaultDict.value =": (lambda c: DefaultDict(list, {"old": [1]}, key="k", client=c), _assign({"new": [1]})),
    "Counter.value =": (lambda c: Counter("old", key="k", client=c), _assign("new")),
    "Counter(initial)": (
        lambda c: Counter("old", key="k", client=c),
        lambda d: Counter("new", key="k", client=d.client),
    ),
    "Int.value =": (lambda c: Int(1, key="k", client=c), _assign(7)),
    "Int(initial)": (lambda c: Int(1, key="k", client=c), lambda d: Int(7, key="k", client=d.client)),
    "Float.value =": (lambda c: Float(1.5, key="k", client=c), _assign(7.5)),
    "Set.value =": (lambda c: Set({"old"}, key="k", client=c), _assign({"new"})),
    "List.value =": (lambda c: List(["old"], key="k", client=c), _assign(["new"])),
    "String.value =": (lambda c: String("old", key="k", client=c), _assign("new")),
}


@pytest.mark.parametrize(("make", "replace"), REPLACEMENTS.values(), ids=REPLACEMENTS.keys())
def test_replacing_the_value_keeps_the_ttl_a_user_set_on_the_key(client, raw, make, replace):
    obj = make(client)
    raw.expire(client.key_prefix + "k", 100)
    replace(obj)
    assert 0 < raw.pttl(client.key_prefix + "k") <= 100_000


def test_an_int_operand_whose_key_holds_text_that_is_not_a_number_is_the_key_the_error_names(client, raw):
    raw.set(client.key_prefix + "other", "not a number")
    x = Int(5, key="x", client=client)
    with pytest.raises(WrongTypeError, match=f"'{client.key_prefix}other'") as err:
        x += Int(key="other", client=client)
    assert err.value.key == client.key_prefix + "other"
    assert x.value == 5


_FOREIGN = {"string": lambda r, k: r.set(k, "x"), "list": lambda r, k: r.rpush(k, "x"),
            "hash": lambda r, k: r.hset(k, "f", "v"), "set": lambda r, k: r.sadd(k, "x")}
_WRITES = {
    List: ("list", [lambda o: List([1, 2], key="k", client=o.client), lambda o: o.append(1),
                    lambda o: o.insert(0, 1), lambda o: o.pop(0), lambda o: o.__setitem__(slice(0, 1), [1, 2]),
                    lambda o: o.__setitem__(slice(0, 4, 2), [1, 2]), lambda o: o.__delitem__(slice(0, 2)),
                    lambda o: o.reverse(), lambda o: o.sort(), lambda o: o.__imul__(2), lambda o: o.clear(),
                    lambda o: setattr(o, "value", [1])]),
    Set: ("set", [lambda o: Set({1, 2}, key="k", client=o.client), lambda o: o.add(1), lambda o: o.pop(),
                  lambda o: o.update({1}), lambda o: o.intersection_update({1}), lambda o: o.difference_update({1}),
                  lambda o: o.symmetric_difference_update({1}), lambda o: o.clear(),
                  lambda o: setattr(o, "value", {1})]),
    Dict: ("hash", [lambda o: Dict({"a": 1}, key="k", client=o.client), lambda o: o.__setitem__("a", 1),
                    lambda o: o.pop("a", None), lambda o: o.popitem(), lambda o: o.setdefault("a", 1),
                    lambda o: o.update({"a": 1}), lambda o: o.clear(), lambda o: setattr(o, "value", {"a": 1})]),
    Counter: ("hash", [lambda o: Counter({"a": 1}, key="k", client=o.client), lambda o: o.update(["a"]),
                       lambda o: o.subtract({"a": 1}), lambda o: o.__iand__({"a": 1}), lambda o: o.__ior__({"a": 1}),
                       lambda o: setattr(o, "value", {"a": 1})]),
    String: ("string", [lambda o: String("ab", key="k", client=o.client), lambda o: o.__iadd__("x"),
                        lambda o: o.__imul__(2), lambda o: o.__setitem__(slice(0, 1), "xy"),
                        lambda o: o.__delitem__(0)]),
    Int: ("string", [lambda o: Int(3, key="k", client=o.client), lambda o: o.__iadd__(1),
                     lambda o: o.__imul__(2), lambda o: o.__ifloordiv__(2), lambda o: setattr(o, "value", 1)]),
}


def _keys_of(raw, prefix):
    return {k: (raw.type(k), raw.dump(k)) for k in raw.scan_iter(match=f"*{prefix}*")}


@pytest.mark.parametrize("cls", list(_WRITES), ids=lambda c: c.__name__)
def test_every_write_on_a_key_of_another_redis_type_raises_wrong_type_naming_it_and_changes_no_key(client, raw, cls):
    # the sweep of DESIGN 9 ("nothing is ever half-written"): constructing with a value and
    # each write, on the main key holding each other type; scratch keys included
    own, writes = _WRITES[cls]
    main = client.key_prefix + "k"
    for kind, store in _FOREIGN.items():
        if kind == own:
            continue
        raw.delete(main)
        store(raw, main)
        obj = cls(key="k", client=client)
        before = _keys_of(raw, client.key_prefix)
        for i, write in enumerate(writes):
            with pytest.raises(WrongTypeError) as err:
                write(obj)
            assert err.value.key == main, (kind, i)
            assert _keys_of(raw, client.key_prefix) == before, (kind, i)


def test_copy_copy_of_a_collection_is_an_independent_plain_snapshot(client):
    # copy.copy() used to copy the handle (same key: appending to the "copy" changed
    # the original) and copy.deepcopy() raised TypeError (a lock in the object)
    import copy

    from hotsync.collections import Counter, Dict, Int, List, Set, String

    items = List([1, [2]], key="cp-list", client=client)
    snap = copy.copy(items)
    snap.append(3)
    assert items.value == [1, [2]] and snap == [1, [2], 3]
    deep = copy.deepcopy(items)
    deep[1].append(9)
    assert items.value == [1, [2]] and deep == [1, [2, 9]]
    assert copy.copy(Dict({"a": 1}, key="cp-dict", client=client)) == {"a": 1}
    assert copy.copy(Set({1}, key="cp-set", client=client)) == {1}
    assert copy.copy(Counter("aab", key="cp-counter", client=client)) == {"a": 2, "b": 1}
    n = Int(1, key="cp-int", client=client)
    c = copy.copy(n)
    c += 5
    assert n.value == 1 and c == 6
    assert copy.deepcopy(String("x", key="cp-str", client=client)) == "x"
