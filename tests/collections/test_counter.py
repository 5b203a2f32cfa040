"""Counter (MultiSet) against collections.Counter, side by side."""

from __future__ import annotations

import collections
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import hotsync
from hotsync import Counter, MultiSet, TransactionError, WrongTypeError

from .._helpers import join_all, start, wait_for
from .._number_workers import counter_updater
from .test_dict import count_trips, same, unconnected_client

A = "wagwaan"
KW = {"hot": 420, "skull": -9000}


# -- hot-redis's MultiSet tests, plus its bugs (research/hot-redis.md §5) -----------------------


def test_counter_equals_collections_counter_of_the_same_input(client):
    assert Counter(A, client=client) == collections.Counter(A)
    assert Counter(**KW, client=client) == collections.Counter(**KW)
    assert Counter(client=client) == collections.Counter()
    assert MultiSet is Counter


def test_values_are_ints_and_negative_counts_are_stored(client, raw):
    m = Counter(A, client=client)
    assert sorted(m.values()) == sorted(collections.Counter(A).values())
    assert all(type(v) is int for v in m.values())
    assert m.get("a") == 3 and m.get("flute", "don") == "don" and m.get("nope") is None
    k = Counter(**KW, key="kw", client=client)
    assert k["skull"] == -9000 and k.get("hot") == 420
    # plain Redis integers: other clients can HINCRBY them
    assert raw.hincrby(client.key_prefix + "kw", b'"hot"', 1) == 421


def test_missing_elements_count_zero_without_being_stored(client):
    m = Counter(client=client)
    assert m["x"] == 0
    assert "x" not in m and len(m) == 0
    del m["not there"]  # no KeyError, as in Counter


@pytest.mark.parametrize("arg", ["counter", "hot", "string", "mapping", "kwargs"])
def test_update_and_subtract_match_counter_for_every_kind_of_argument(client, arg):
    for method in ("update", "subtract"):
        std, hot = collections.Counter(A), Counter(A, client=client)
        make = {
            "counter": lambda: ((collections.Counter(A),), {}),
            "hot": lambda: ((Counter(A, client=client),), {}),
            "string": lambda: ((A,), {}),
            "mapping": lambda: (({"hotskull": 420, "a": -1},), {}),
            "kwargs": lambda: ((), {"hotskull": 420}),
        }[arg]
        args, kwargs = make()
        getattr(std, method)(*args, **kwargs)
        args, kwargs = make()
        getattr(hot, method)(*args, **kwargs)
        assert hot.value == std and dict(hot.value) == dict(std)


def test_re_constructing_on_an_existing_key_replaces_instead_of_adding(client):
    Counter("aab", key="again", client=client)
    assert Counter("aab", key="again", client=client) == {"a": 2, "b": 1}
    assert Counter("", key="again", client=client) == {}


def test_most_common_zero_is_empty_and_counts_follow_counter(client):
    std, hot = collections.Counter(A), Counter(A, client=client)
    assert hot.most_common(0) == [] == std.most_common(0)
    assert hot.most_common(-1) == std.most_common(-1)
    assert [c for _, c in hot.most_common()] == [c for _, c in std.most_common()]
    assert [c for _, c in hot.most_common(2)] == [c for _, c in std.most_common(2)]
    same(lambda: std.most_common("x"), lambda: hot.most_common("x"))


def test_and_of_counters_drops_non_positive_counts(client):
    assert Counter(a=-1, b=2, client=client) & collections.Counter(a=5, b=1) == {"b": 1}
    assert collections.Counter(a=-1, b=2) & Counter(a=5, b=1, client=client) == {"b": 1}
    m = Counter(a=-1, b=2, client=client)
    m &= Counter(a=5, b=1, client=client)
    assert m.value == collections.Counter(b=1) and dict(m.value) == {"b": 1}


def test_in_place_union_and_intersection_match_counter(client):
    for other in (Counter("flute don", client=client), collections.Counter("flute don"), {"n": 5, "z": -1}):
        for op in ("__iand__", "__ior__"):
            std, hot = collections.Counter(A), Counter(A, client=client)
            # (collections.Counter's &= raises KeyError for keys a plain dict lacks: documented)
            getattr(std, op)(collections.Counter(other.value if isinstance(other, Counter) else other))
            res = getattr(hot, op)(other)
            assert res is hot and dict(hot.value) == dict(std)
    m = Counter(a=-1, client=client)
    m |= {"b": 1}
    assert dict(m.value) == {"b": 1}


def test_elements_total_and_fromkeys_match_counter(client):
    std, hot = collections.Counter(A, hotskull=2), Counter(A, hotskull=2, client=client)
    assert sorted(hot.elements()) == sorted(std.elements())
    assert hot.total() == std.total()
    same(lambda: collections.Counter.fromkeys("ab"), lambda: Counter.fromkeys("ab"))
    assert type(hot.copy()) is collections.Counter and hot.copy() == std


# -- Counter's sign rules -------------------------------------------------------------------------------

COUNTS = st.dictionaries(st.sampled_from("abcde"), st.integers(-4, 4), max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(left=COUNTS, right=COUNTS)
def test_binary_unary_and_comparison_operators_follow_counter_sign_rules(client, left, right):
    l_std, r_std = collections.Counter(left), collections.Counter(right)
    l_hot, r_hot = Counter(left, client=client), Counter(right, client=client)
    for op in ("__add__", "__sub__", "__or__", "__and__", "__le__", "__lt__", "__ge__", "__gt__", "__eq__", "__ne__"):
        expected = getattr(l_std, op)(r_std)
        assert getattr(l_hot, op)(r_hot) == expected, op
        assert getattr(l_hot, op)(r_std) == expected, op
    assert l_std + r_hot == l_std + r_std and l_std - r_hot == l_std - r_std
    assert l_std | r_hot == l_std | r_std and l_std & r_hot == l_std & r_std
    assert +l_hot == +l_std and -l_hot == -l_std
    assert type(l_hot + r_hot) is collections.Counter


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(left=COUNTS, right=COUNTS, op=st.sampled_from(["__iadd__", "__isub__", "__ior__", "__iand__"]), hot_rhs=st.booleans())
def test_in_place_operators_persist_with_counter_sign_rules(client, left, right, op, hot_rhs):
    std = collections.Counter(left)
    hot = Counter(left, client=client)
    getattr(std, op)(collections.Counter(right))
    assert getattr(hot, op)(Counter(right, client=client) if hot_rhs else collections.Counter(right)) is hot
    assert dict(Counter(key=hot.key, client=client).value) == dict(std)


def test_binary_operators_with_other_types_raise_type_error_like_counter(client):
    hot, std = Counter("ab", client=client), collections.Counter("ab")
    for other in ({"a": 1}, 1, "ab"):
        for op in ("__add__", "__sub__", "__and__"):
            assert getattr(hot, op)(other) is NotImplemented and getattr(std, op)(other) is NotImplemented
    assert {"z": 1} | hot == {"z": 1} | std  # dict | Counter is a dict merge
    same(lambda: std.__iadd__([1]), lambda: hot.__iadd__([1]))


# -- range, bad input, wrong types -------------------------------------------------------------------------


def test_counts_beyond_64_bits_raise_overflow_and_change_nothing(client):
    m = Counter({"a": 2**63 - 2}, client=client)
    with pytest.raises(OverflowError):
        Counter({"a": 2**63}, key=m.key, client=client)
    with pytest.raises(OverflowError):
        m.update({"new": 1, "a": 5, "other": 2})
    assert m == {"a": 2**63 - 2}  # fields created before the overflow were removed again
    with pytest.raises(OverflowError):
        m.update({"a": 5})  # the single-element HINCRBY path
    with pytest.raises(OverflowError):
        m.update({"x": 2**63})
    with pytest.raises(OverflowError):
        m += Counter({"a": 9}, client=client)
    assert m == {"a": 2**63 - 2}
    m.subtract({"a": 2**63 - 2, "b": 2**63 - 1})
    assert m == {"a": 0, "b": -(2**63) + 1}


def test_non_integer_counts_raise_type_error_before_writing(client):
    m = Counter("ab", client=client)
    for bad in ({"a": 1.5}, {"a": "1"}, {"a": None}):
        with pytest.raises(TypeError, match="integers"):
            m.update(bad)
        with pytest.raises(TypeError):
            m.value = bad
    with pytest.raises(TypeError):
        m["a"] = 0.5
    with pytest.raises(TypeError):
        m.update([object()])  # an element the codec cannot encode
    assert m == {"a": 1, "b": 1}


def test_a_stored_count_that_is_not_an_integer_makes_updates_fail_cleanly(client, raw):
    m = Counter({"a": 1, "b": 1}, key="c", client=client)
    raw.hset(client.key_prefix + "c", b'"b"', b"oops")
    for call in (lambda: m.update({"a": 1, "b": 1}), lambda: m.update(["b"]), lambda: m.__ior__({"b": 3})):
        with pytest.raises(ValueError, match="not an integer"):
            call()
    assert raw.hgetall(client.key_prefix + "c") == {b'"a"': b"1", b'"b"': b"oops"}


def test_wrong_redis_type_raises_wrong_type_naming_the_key(client, raw):
    raw.set(client.key_prefix + "str", "x")
    m = Counter(key="str", client=client)
    for call in (
        lambda: m.update(["a"]), lambda: m.update("ab"), lambda: m.__iadd__({"a": 1}), lambda: m.__ior__({"a": 1}),
        lambda: m.__iand__({"a": 1}), lambda: m["a"], m.most_common, m.total,
        lambda: m.update(Counter("a", client=client)), lambda: Counter("ab", key="str", client=client),
    ):
        with pytest.raises(WrongTypeError, match="str"):
            call()
    assert raw.get(client.key_prefix + "str") == b"x"


def test_repr_does_no_io():
    assert repr(Counter(key="c", client=unconnected_client())) == "<hotsync.Counter key='c'>"


# -- atomicity: round trips, transactions, processes -------------------------------------------------------


def test_one_element_update_is_one_hincrby_and_several_are_one_script(client):
    m = Counter(client=client)
    m.update("ab")  # loads the script
    with count_trips(client) as trips:
        m.update(["a"])
        m.update({"a": 2})
        m.update("abc")
        m += Counter("a", client=client)
    assert [t.decode() if isinstance(t, bytes) else t for t in trips][:3] == ["HINCRBY", "HINCRBY", "EVALSHA"]
    assert len(trips) == 5  # Counter("a") is one replace script, += one more
    assert m == {"a": 6, "b": 2, "c": 1}


def test_transaction_batches_counter_writes(client):
    m = Counter("ab", client=client)
    with count_trips(client) as trips:
        with hotsync.transaction(client):
            m.update(["a"])
            m.update("abc")
            m.subtract({"b": 5})
            m |= {"z": 2}
            m -= {"c": 1}
            with pytest.raises(TransactionError):
                m.most_common()
    assert len(trips) == 1
    assert dict(m.value) == {"a": 3, "z": 2}


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_updates_from_several_processes_lose_nothing(client, redis_url):
    procs, rounds = 4, 150
    workers = [
        start(counter_updater, redis_url, client.key_prefix, "shared", rounds, "go", i) for i in range(procs)
    ]
    wait_for(lambda: int(client.redis.get(client.key_prefix + "go:ready") or 0) == procs, 60, "workers ready")
    client.redis.set(client.key_prefix + "go", 1)
    join_all(workers, 100)
    m = Counter(key="shared", client=client)
    even = (rounds + 1) // 2
    expected = {"a": procs * rounds, "b": procs * (2 * even - rounds)}
    expected.update({f"w{i}": even for i in range(procs)})
    assert dict(m.value) == expected


# -- random operation sequences against collections.Counter ----------------------------------------------

ELEMS = st.sampled_from(["a", "b", "c", 1, None])


def test_counter_matches_collections_counter_under_random_operations(client):
    class CounterMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.model = collections.Counter()
            self.hot = Counter(key=f"m{uuid.uuid4().hex}", client=client)

        @rule(elems=st.lists(ELEMS, max_size=4))
        def update_iterable(self, elems):
            self.model.update(elems)
            self.hot.update(elems)

        @rule(counts=st.dictionaries(ELEMS, st.integers(-3, 3), max_size=3))
        def update_mapping(self, counts):
            self.model.update(counts)
            self.hot.update(counts)

        @rule(counts=st.dictionaries(ELEMS, st.integers(-3, 3), max_size=3))
        def subtract(self, counts):
            self.model.subtract(counts)
            self.hot.subtract(counts)

        @rule(counts=st.dictionaries(ELEMS, st.integers(-3, 3), max_size=3), op=st.sampled_from(["__iadd__", "__isub__", "__ior__", "__iand__"]))
        def in_place(self, counts, op):
            self.model = getattr(self.model, op)(collections.Counter(counts))
            getattr(self.hot, op)(collections.Counter(counts))

        @rule(e=ELEMS, n=st.integers(-3, 3))
        def setitem(self, e, n):
            self.model[e] = n
            self.hot[e] = n

        @rule(e=ELEMS)
        def delitem(self, e):
            del self.model[e]
            del self.hot[e]

        @rule(e=ELEMS)
        def getitem(self, e):
            assert self.hot[e] == self.model[e]

        @rule(n=st.one_of(st.none(), st.integers(-1, 4)))
        def most_common_counts(self, n):
            assert [c for _, c in self.hot.most_common(n)] == [c for _, c in self.model.most_common(n)]

        @rule()
        def totals(self):
            assert self.hot.total() == self.model.total()
            assert sorted(self.hot.elements(), key=repr) == sorted(self.model.elements(), key=repr)

        @invariant()
        def same_counts(self):
            assert dict(self.hot.value) == dict(self.model)

    run_state_machine_as_test(
        CounterMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)),
    )
