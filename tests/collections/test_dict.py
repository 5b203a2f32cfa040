"""Dict and DefaultDict against dict and collections.defaultdict, side by side."""

from __future__ import annotations

import collections
import contextlib
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import hotsync

from .._parity import same
from hotsync import DefaultDict, Dict, TransactionError, WrongTypeError


# -- helpers shared with the other collection tests ------------------------------------------


@contextlib.contextmanager
def count_trips(client):
    """Record every round trip ``client`` makes: a command name, or ("pipeline", n)."""
    calls = []
    execute, execute_many = client.execute, client.execute_many

    def one(*args, **kwargs):
        calls.append(args[0] if args[0] not in (b"EVALSHA", "EVALSHA") else "EVALSHA")
        return execute(*args, **kwargs)

    def many(commands, **kwargs):
        names = [c[0] for c in commands]
        calls.append(("pipeline", ["MULTI", *names, "EXEC"] if kwargs.get("transaction") else names))
        return execute_many(commands, **kwargs)

    client.execute, client.execute_many = one, many
    try:
        yield calls
    finally:
        del client.execute, client.execute_many





def unconnected_client():
    """A client whose server does not exist: any I/O would fail."""
    return hotsync.HotClient(port=1, retry=hotsync.RetryPolicy(budget=0), metrics=False, socket_connect_timeout=0.2)


OFFLINE = unconnected_client()


# -- construction, value, round trips ------------------------------------------------------------


def test_dict_equals_its_initial_content_and_an_empty_dict_equals_empty(client):
    a = {"wagwaan": "popcaan", "flute": "don"}
    assert Dict(a, client=client) == a
    assert Dict(client=client) == {}
    assert Dict({}, client=client) == {}


def test_values_keep_their_types_through_the_json_codec(client, raw):
    values = {"int": 1, "true": True, "none": None, "list": [1], "dict": {"a": [1, 2.5]}, "float": 1.5, "str": "1"}
    d = Dict(values, key="types", client=client)
    for k, v in values.items():
        assert d[k] == v and type(d[k]) is type(v)
    assert Dict({"a": 5}, client=client)["a"] == 5
    # numbers stay Redis numbers: HINCRBY works on them
    assert raw.hincrby(client.key_prefix + "types", b'"int"', 2) == 3
    assert d["int"] == 3


@pytest.mark.parametrize("value", [1, True, None, [1]], ids=repr)
def test_round_trip_of_a_python_value_keeps_its_type(client, value):
    d = Dict({"v": value}, client=client)
    back = Dict(key=d.key, client=client)["v"]
    assert back == value and type(back) is type(value)


def test_bytes_are_refused_by_json_and_round_trip_with_the_pickle_codec(client):
    with pytest.raises(TypeError):
        Dict({"b": b"\xff"}, client=client)
    d = Dict({"b": b"\xff"}, client=client, codec="pickle")
    assert d["b"] == b"\xff"


JSONABLE = st.recursive(
    st.one_of(st.text(), st.integers(), st.none(), st.booleans(), st.floats()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(x=JSONABLE)
def test_fast_json_paths_write_and_read_exactly_what_the_json_codec_does(x):
    from hotsync.codecs import JsonCodec

    codec = JsonCodec()
    d = Dict(key="enc", client=OFFLINE)
    assert d._venc(x) == codec.dumps(x)
    if not isinstance(x, (bool, float, list, dict)):
        assert d._fenc(x) == codec.dumps(x)
    data = codec.dumps(x)
    back, expected = d._vdec(data), codec.loads(data)
    assert repr(back) == repr(expected) and type(back) is type(expected)
    for raw_text in (b"007", b"1_0", b"\xef\xbb\xbf1", "1".encode("utf-16"), b" 12 "):
        try:
            expected = codec.loads(raw_text)
        except ValueError as exc:
            with pytest.raises(type(exc)):
                d._vdec(raw_text)
        else:
            assert d._vdec(raw_text) == expected


def test_keys_keep_their_types_and_equal_numbers_are_one_key(client):
    d = Dict({1: "int", "1": "str", None: "none"}, client=client)
    assert d == {1: "int", "1": "str", None: "none"}
    d[1.0] = "float one"
    d[True] = "true"
    assert d.value == {1: "true", "1": "str", None: "none"}
    assert d[1.0] == "true" and 1.0 in d and True in d


def test_initial_replaces_what_the_key_holds_atomically(client):
    Dict({"a": 1, "b": 2}, key="k", client=client)
    again = Dict({"c": 3}, key="k", client=client)
    assert again == {"c": 3}
    Dict({}, key="k", client=client)
    assert Dict(key="k", client=client) == {}


def test_attaching_without_initial_keeps_the_content(client):
    Dict({"a": 1}, key="k", client=client)
    assert Dict(key="k", client=client) == {"a": 1}


def test_value_assignment_replaces_and_value_is_a_plain_copy(client):
    d = Dict({"a": 1}, client=client)
    copy = d.value
    assert type(copy) is dict
    copy["x"] = 1
    assert "x" not in d
    d.value = [("b", 2), ("c", 3)]
    assert d == {"b": 2, "c": 3}
    d.value = {}
    assert len(d) == 0


def test_replacing_leaves_no_key_but_the_hash_and_its_scratch_key_shares_the_slot(client, raw):
    from redis.crc import key_slot

    from hotsync._keys import aux

    d = Dict({"a": 1}, key="only", client=client)
    d.value = {f"k{i}": i for i in range(1200)}
    again = Dict({"x": 1}, key="only", client=client)
    assert again == {"x": 1}
    assert sorted(raw.keys(client.key_prefix + "*") + raw.keys("{" + client.key_prefix + "*")) == [
        (client.key_prefix + "only").encode()
    ]
    main = client.key_prefix + "only"
    assert key_slot(aux(main, "tmp").encode()) == key_slot(main.encode())


def test_replacing_with_many_items_is_one_script(client):
    d = Dict(client=client)
    big = {f"k{i}": i for i in range(2500)}
    d.value = {"warm": 1}
    with count_trips(client) as trips:
        d.value = big
    assert trips == ["EVALSHA"]
    assert d == big


def test_repr_shows_kind_and_key_without_io():
    c = unconnected_client()
    assert repr(Dict(key="cfg", client=c)) == "<hotsync.Dict key='cfg'>"
    assert repr(DefaultDict(int, key="dd", client=c)) == "<hotsync.DefaultDict key='dd' default_factory=<class 'int'>>"


def test_dict_is_a_mutable_mapping_and_unhashable(client):
    from collections.abc import MutableMapping

    d = Dict(client=client)
    assert isinstance(d, MutableMapping)
    with pytest.raises(TypeError):
        hash(d)


# -- the dict API ---------------------------------------------------------------------------------


def test_hot_redis_dict_cases(client):
    a = {"wagwaan": "popcaan", "flute": "don"}
    d = Dict(a, client=client)
    d.update({"wagwaan": "hotskull", "nba": "hangtime"})
    a.update({"wagwaan": "hotskull", "nba": "hangtime"})
    assert d == a
    assert sorted(d) == sorted(a) and sorted(d.keys()) == sorted(a.keys())
    assert sorted(d.values()) == sorted(a.values()) and sorted(d.items()) == sorted(a.items())
    assert d.setdefault("x", "y") == "y" and d["x"] == "y" and d.setdefault("x", "z") == "y"
    assert d.get("missing") is None and d.get("missing", "don") == "don"
    with pytest.raises(KeyError):
        d["missing"]
    del d["x"]
    with pytest.raises(KeyError):
        del d["x"]
    assert "wagwaan" in d and "x" not in d and len(d) == 3
    d.clear()
    assert len(d) == 0 and d == {}


def test_get_setdefault_and_in_with_unencodable_or_unhashable_keys_match_dict(client):
    std, hot = {}, Dict(client=client)
    same(lambda: std.get(object(), 1), lambda: hot.get(object(), 1))
    same(lambda: object() in std, lambda: object() in hot)
    same(lambda: [] in std, lambda: [] in hot)
    same(lambda: std[[]], lambda: hot[[]])
    same(lambda: std.pop(object(), "d"), lambda: hot.pop(object(), "d"))
    with pytest.raises(TypeError):
        hot[object()] = 1
    with pytest.raises(TypeError):
        hot[(1, 2)] = 1  # JSON would give it back as an (unhashable) list


def test_pop_matches_dict_including_argument_errors(client):
    std, hot = {"a": 1}, Dict({"a": 1}, client=client)
    for args in [(), ("a", 1, 2), ("missing",), ("missing", "default"), ("a",), ("a",)]:
        same(lambda: std.pop(*args), lambda: hot.pop(*args))
    assert hot == std


def test_update_accepts_mappings_pairs_and_keywords_like_dict(client):
    for args, kwargs in [
        (({"a": 1},), {}),
        (([("a", 1), ("b", 2)],), {}),
        ((), {"a": 1, "b": 2}),
        (({"a": 1},), {"a": 2}),
        ((Dict({"z": 9}, client=client),), {}),
        (iter([("g", 1)]), {}),
    ]:
        std, hot = {"a": 0}, Dict({"a": 0}, client=client)
        if not isinstance(args, tuple):  # a one-shot iterator: give each side its own
            items = list(args)
            std.update(iter(items))
            hot.update(iter(items))
        else:
            std.update(*args, **kwargs)
            hot.update(*args, **kwargs)
        assert hot == std


@pytest.mark.parametrize(
    "args", [(1, 2), ([1],), ([(1, 2, 3)],), (5,), ([("a",)],), ("ab",)], ids=repr
)
def test_update_argument_errors_match_dict_and_write_nothing(client, args):
    std, hot = {"a": 0}, Dict({"a": 0}, client=client)
    same(lambda: std.update(*args), lambda: hot.update(*args))
    assert hot == {"a": 0}


def test_empty_update_sends_nothing(client):
    d = Dict({"a": 1}, client=client)
    with count_trips(client) as trips:
        d.update({})
        d.update([])
        d.update()
        d |= {}
    assert trips == []


def test_update_with_an_unencodable_value_writes_nothing(client):
    d = Dict({"a": 1}, client=client)
    with pytest.raises(TypeError):
        d.update({"b": 2, "c": object()})
    with pytest.raises(TypeError):
        d["c"] = {1, 2}
    with pytest.raises(TypeError):
        d.value = {"x": 1, "y": object()}
    with pytest.raises(TypeError):
        Dict({"x": object()}, key=d.key, client=client)
    assert d == {"a": 1}


def test_big_update_is_applied_in_one_atomic_round_trip(client):
    d = Dict(client=client)
    big = {f"k{i}": i for i in range(1600)}
    with count_trips(client) as trips:
        d.update(big)
    assert trips == [("pipeline", ["MULTI", "HSET", "HSET", "HSET", "HSET", "EXEC"])]
    assert d == big


def test_popitem_removes_and_returns_an_existing_item_then_raises_when_empty(client):
    std = {"a": 1, "b": 2, "c": 3}
    d = Dict(std, client=client)
    seen = {}
    for _ in range(3):
        k, v = d.popitem()
        assert std[k] == v and k not in seen
        seen[k] = v
    assert seen == std and len(d) == 0
    same({}.popitem, d.popitem)


def test_views_are_live_and_match_dict_views(client):
    std = {"a": 1, "b": 2}
    d = Dict(std, client=client)
    keys, values, items = d.keys(), d.values(), d.items()
    d["c"] = 3
    std["c"] = 3
    assert keys == std.keys() and len(keys) == 3 and "c" in keys
    assert sorted(values) == sorted(std.values()) and 3 in values
    assert items == std.items() and ("c", 3) in items and ("c", 4) not in items and "c" not in items
    assert keys & {"a", "z"} == {"a"}
    assert list(reversed(d)) == list(reversed(list(d)))
    assert list(reversed(items)) == list(reversed(list(items)))


def test_iterating_values_and_items_is_one_round_trip(client):
    d = Dict({f"k{i}": i for i in range(50)}, client=client)
    with count_trips(client) as trips:
        # (list(x) would first call len(x): one more round trip, as documented)
        assert len([v for v in d.values()]) == 50
        assert len([kv for kv in d.items()]) == 50
        assert len([k for k in d]) == 50
    assert [t.decode() if isinstance(t, bytes) else t for t in trips] == ["HVALS", "HGETALL", "HKEYS"]


def test_copy_is_a_plain_dict_and_fromkeys_builds_a_new_object(client):
    d = Dict({"a": 1}, client=client)
    c = d.copy()
    assert c == {"a": 1} and type(c) is dict
    f = Dict.fromkeys("ab", client=client)
    assert isinstance(f, Dict) and f.key != d.key and f == {"a": None, "b": None}
    g = Dict.fromkeys(["x"], 0, key="named", client=client)
    assert g.key == "named" and g == {"x": 0}


def test_or_and_ior_match_dict(client):
    std, hot = {"a": 1, "b": 2}, Dict({"a": 1, "b": 2}, client=client)
    other = {"b": 3, "c": 4}
    assert hot | other == std | other and type(hot | other) is dict
    assert other | hot == other | std
    assert hot | Dict(other, client=client) == std | other
    hot |= [("d", 5)]
    std |= [("d", 5)]
    assert hot == std
    with pytest.raises(TypeError):
        std | [("x", 1)]
    with pytest.raises(TypeError, match="unsupported operand"):
        hot | [("x", 1)]


def test_equality_with_dicts_and_other_dicts(client):
    assert Dict({"a": 1}, client=client) == {"a": 1}
    assert Dict({"a": 1}, client=client) != {"a": 2}
    assert Dict({"a": 1}, client=client) == Dict({"a": 1}, client=client)
    assert Dict({"a": 1}, client=client) != [("a", 1)]


# -- two objects: server-side when colocated -----------------------------------------------------------


def test_update_from_a_colocated_dict_runs_in_one_script(client):
    src = Dict({"a": 1, "b": [2]}, client=client)
    dst = Dict({"z": 0}, client=client)
    with count_trips(client) as trips:
        dst |= src
    assert trips == ["EVALSHA"]
    assert dst == {"z": 0, "a": 1, "b": [2]}
    with count_trips(client) as trips:
        assert dst | src == {"z": 0, "a": 1, "b": [2]}
    assert trips == [("pipeline", ["MULTI", "HGETALL", "HGETALL", "EXEC"])]


def test_update_from_a_dict_on_another_client_falls_back_to_reading_it(client, redis_url):
    other_client = hotsync.HotClient.from_url(redis_url, key_prefix=client.key_prefix, metrics=False)
    try:
        src = Dict({"a": 1}, client=other_client)
        dst = Dict({"z": 0}, client=client)
        dst.update(src, y=2)
        assert dst == {"z": 0, "a": 1, "y": 2}
        assert dst | src == {"z": 0, "a": 1, "y": 2}
    finally:
        other_client.close()


def test_update_from_a_dict_with_another_codec_decodes_and_reencodes(client):
    src = Dict({"a": "1"}, client=client, codec="str")
    dst = Dict(client=client)
    dst.update(src)
    assert dst == {"a": "1"}


# -- wrong types, transactions -------------------------------------------------------------------------


def test_every_path_on_a_key_of_another_type_raises_wrong_type_naming_the_key(client, raw):
    raw.rpush(client.key_prefix + "lst", "x")
    d = Dict(key="lst", client=client)
    calls = [
        lambda: d["a"], lambda: d.__setitem__("a", 1), lambda: len(d), lambda: list(d), lambda: "a" in d,
        lambda: d.get("a"), lambda: d.setdefault("a", 1), lambda: d.pop("a", None), d.popitem,
        lambda: d.update(a=1), lambda: d.update({f"k{i}": i for i in range(600)}), lambda: d.value,
        lambda: setattr(d, "value", {"a": 1}), lambda: list(d.values()), lambda: list(d.items()),
        lambda: d.__delitem__("a"), lambda: d.update(Dict({"a": 1}, client=client)),
        lambda: d | Dict({"a": 1}, client=client),
    ]
    for call in calls:
        with pytest.raises(WrongTypeError, match="lst") as info:
            call()
        assert isinstance(info.value, TypeError)
    assert raw.lrange(client.key_prefix + "lst", 0, -1) == [b"x"]


def test_transaction_batches_every_write_into_one_multi_exec(client):
    d = Dict({"a": 1, "gone": 0}, client=client)
    e = Dict({"e": 5}, client=client)
    with count_trips(client) as trips:
        with hotsync.transaction(client):
            d["b"] = 2
            assert d.setdefault("c", 3) is None
            assert d.pop("gone") is None
            assert d.pop("not there") is None  # cannot raise KeyError before EXEC
            d.update(x=1)
            d |= e
            del d["a"]
            d.value = {"fresh": 1}
            d["after"] = True
    assert len(trips) == 1 and trips[0][0] == "pipeline"
    assert trips[0][1][0] == "MULTI" and trips[0][1][-1] == "EXEC"
    assert d == {"fresh": 1, "after": True}


def test_writes_inside_a_transaction_are_invisible_until_it_ends(client, redis_url):
    d = Dict({"a": 1}, key="tx", client=client)
    watcher = hotsync.HotClient.from_url(redis_url, key_prefix=client.key_prefix, metrics=False)
    try:
        seen = Dict(key="tx", client=watcher)
        with hotsync.transaction(client):
            d["b"] = 2
            d.setdefault("c", 3)
            assert seen == {"a": 1}
        assert seen == {"a": 1, "b": 2, "c": 3}
    finally:
        watcher.close()


def test_reads_inside_a_transaction_raise(client):
    d = DefaultDict(int, {"a": 1}, client=client)
    with hotsync.transaction(client):
        for read in (lambda: d["a"], lambda: len(d), lambda: d.get("a"), lambda: list(d), lambda: d.value):
            with pytest.raises(TransactionError):
                read()


def test_a_failing_block_discards_its_writes(client):
    d = Dict({"a": 1}, client=client)
    with pytest.raises(RuntimeError):
        with hotsync.transaction(client):
            d["b"] = 2
            raise RuntimeError
    assert d == {"a": 1}


# -- DefaultDict ---------------------------------------------------------------------------------------


def test_defaultdict_int_then_increment_twice_gives_2(client):
    d = DefaultDict(int, client=client)
    d["k"] += 1
    d["k"] += 1
    assert d["k"] == 2 and d == {"k": 2}


def test_defaultdict_stores_the_factory_value_only_when_absent(client):
    calls = []

    def factory():
        calls.append(1)
        return ["fresh"]

    d = DefaultDict(factory, {"here": [1]}, client=client)
    assert d["here"] == [1] and calls == []
    assert d["new"] == ["fresh"] and calls == [1]
    assert d == {"here": [1], "new": ["fresh"]}
    assert d.get("other") is None and "other" not in d and ("other", None) not in d.items()


def test_defaultdict_miss_returns_the_value_another_process_stored_first(client, raw):
    d = DefaultDict(client=client)

    def factory():
        # another writer stores the key between our HGET and our HSETNX
        raw.hset(client.key_prefix + d.key, b'"k"', b'"theirs"')
        return "ours"

    d.default_factory = factory
    assert d["k"] == "theirs"
    assert d == {"k": "theirs"}


def test_defaultdict_without_factory_and_bad_factories_match_collections(client):
    std, hot = collections.defaultdict(), DefaultDict(client=client)
    same(lambda: std["x"], lambda: hot["x"])
    same(lambda: collections.defaultdict(1), lambda: DefaultDict(1, client=client))
    assert hot.default_factory is None


def test_defaultdict_copy_value_or_and_fromkeys_keep_the_defaultdict_type(client):
    d = DefaultDict(list, {"a": [1]}, client=client)
    for c in (d.copy(), d.value, d | {"b": [2]}):
        assert type(c) is collections.defaultdict and c.default_factory is list
    assert (d | {"b": [2]}) == {"a": [1], "b": [2]}
    f = DefaultDict.fromkeys("ab", 0, client=client)
    assert f.default_factory is None and f == {"a": 0, "b": 0}


def test_defaultdict_list_values_round_trip(client):
    d = DefaultDict(list, client=client)
    lst = d["jobs"]
    lst.append(1)  # a local copy, as documented
    d["jobs"] = lst
    assert d["jobs"] == [1]


# -- random operation sequences against dict --------------------------------------------------------------

KEYS = st.one_of(st.sampled_from(["a", "b", "c", 1, 2, None]), st.text(max_size=3), st.integers(-3, 3))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.lists(st.integers(), max_size=2))


def test_dict_matches_dict_under_random_operations(client):
    class DictMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.model = {}
            self.hot = Dict(key=f"m{uuid.uuid4().hex}", client=client)

        @rule(k=KEYS, v=VALUES)
        def setitem(self, k, v):
            self.model[k] = v
            self.hot[k] = v

        @rule(k=KEYS)
        def delitem(self, k):
            same(lambda: self.model.__delitem__(k), lambda: self.hot.__delitem__(k))

        @rule(k=KEYS, d=VALUES)
        def get(self, k, d):
            assert self.hot.get(k, d) == self.model.get(k, d)

        @rule(k=KEYS)
        def getitem(self, k):
            same(lambda: self.model[k], lambda: self.hot[k])

        @rule(k=KEYS, d=VALUES)
        def setdefault(self, k, d):
            assert self.hot.setdefault(k, d) == self.model.setdefault(k, d)

        @rule(k=KEYS, d=st.one_of(st.just(()), st.tuples(VALUES)))
        def pop(self, k, d):
            same(lambda: self.model.pop(k, *d), lambda: self.hot.pop(k, *d))

        @rule()
        def popitem(self):
            if not self.model:
                same(self.model.popitem, self.hot.popitem)
                return
            k, v = self.hot.popitem()
            assert self.model.pop(k) == v

        @rule(m=st.dictionaries(KEYS, VALUES, max_size=4), kw=st.dictionaries(st.sampled_from("xyz"), VALUES, max_size=2))
        def update(self, m, kw):
            self.model.update(m, **kw)
            self.hot.update(m, **kw)

        @rule(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=3))
        def ior(self, pairs):
            self.model |= pairs
            self.hot |= pairs

        @rule(m=st.dictionaries(KEYS, VALUES, max_size=3))
        def assign(self, m):
            self.model = dict(m)
            self.hot.value = m

        @rule(m=st.dictionaries(KEYS, VALUES, max_size=3))
        def or_(self, m):
            assert self.hot | m == self.model | m

        @rule()
        def clear(self):
            self.model.clear()
            self.hot.clear()

        @rule(k=KEYS)
        def contains(self, k):
            assert (k in self.hot) == (k in self.model)

        @invariant()
        def same_content(self):
            assert self.hot.value == self.model
            assert len(self.hot) == len(self.model)

    run_state_machine_as_test(
        DictMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)),
    )


def test_an_int_over_the_int_to_str_limit_is_refused_with_the_codecs_type_error(client):
    d = Dict({"a": 1}, client=client)
    big = 10**5000
    for write in (lambda: d.__setitem__("b", big), lambda: d.__setitem__(big, 1), lambda: d.update({"c": big})):
        with pytest.raises(TypeError, match="JSON"):
            write()
    assert d.value == {"a": 1}
