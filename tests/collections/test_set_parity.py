"""Set against set: random operation sequences applied to both, compared after every step."""

from __future__ import annotations

import operator
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import hotsync

from ._seq_parity import outcome, same

# ints and short strings: equal in Python exactly when their JSON is equal
members = st.one_of(st.integers(-4, 4), st.text(alphabet="ab", max_size=2))
plain_sets = st.sets(members, max_size=5)
unhashable = st.sampled_from([[1], {"a": 1}, {1}])

SETTINGS = settings(
    max_examples=80,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

IN_PLACE = {
    "update": operator.ior,
    "intersection_update": operator.iand,
    "difference_update": operator.isub,
    "symmetric_difference_update": operator.ixor,
}
BINARY = (operator.or_, operator.and_, operator.sub, operator.xor)
COMPARE = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge)


def _machine(client):
    class SetMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.model: set = set()
            self.hot = hotsync.Set(key=f"parity:{uuid.uuid4().hex}", client=client)
            # a second pair: a hotsync Set on the same server (algebra runs in Redis)
            self.other_model: set = set()
            self.other = hotsync.Set(key=f"parity:{uuid.uuid4().hex}", client=client)

        def both(self, fn):
            return same(lambda: fn(self.model), lambda: fn(self.hot))

        @invariant()
        def contents_agree(self):
            assert self.hot.value == self.model
            assert len(self.hot) == len(self.model)
            assert self.other.value == self.other_model

        @rule(m=members)
        def add(self, m):
            self.both(lambda s: s.add(m))

        @rule(m=members | unhashable)
        def discard_remove_contains(self, m):
            self.both(lambda s: m in s)
            self.both(lambda s: s.remove(m))
            self.both(lambda s: s.discard(m))

        @rule()
        def pop(self):
            if not self.model:
                self.both(lambda s: s.pop())
                return
            value = self.hot.pop()
            assert value in self.model
            self.model.remove(value)

        @rule()
        def clear(self):
            self.both(lambda s: s.clear())

        @rule(ms=plain_sets)
        def assign(self, ms):
            self.model = set(ms)
            self.hot.value = ms

        @rule(ms=plain_sets)
        def assign_other(self, ms):
            self.other_model = set(ms)
            self.other.value = ms

        @rule(name=st.sampled_from(sorted(IN_PLACE)), a=plain_sets, b=plain_sets, n=st.integers(0, 2))
        def update_method_with_plain_operands(self, name, a, b, n):
            args = (a, b)[:n] if name != "symmetric_difference_update" else (a,)
            self.both(lambda s: getattr(s, name)(*args))

        @rule(name=st.sampled_from(sorted(IN_PLACE)), a=plain_sets, lists=st.booleans())
        def update_method_with_the_other_set(self, name, a, lists):
            plain = list(a) if lists else a  # methods take any iterable
            if name == "symmetric_difference_update":
                same(lambda: getattr(self.model, name)(self.other_model), lambda: getattr(self.hot, name)(self.other))
            else:
                same(
                    lambda: getattr(self.model, name)(self.other_model, plain),
                    lambda: getattr(self.hot, name)(self.other, plain),
                )

        @rule(name=st.sampled_from(sorted(IN_PLACE)), a=plain_sets, use_other=st.booleans())
        def in_place_operator(self, name, a, use_other):
            op = IN_PLACE[name]
            std_operand, hot_operand = (self.other_model, self.other) if use_other else (a, a)
            self.model = op(self.model, std_operand)
            result = op(self.hot, hot_operand)
            assert result is self.hot

        @rule(name=st.sampled_from(sorted(IN_PLACE)), bad=st.sampled_from([[1], "ab", 3]))
        def in_place_operator_with_a_non_set(self, name, bad):
            std, hot = outcome(lambda: IN_PLACE[name](self.model, bad)), outcome(lambda: IN_PLACE[name](self.hot, bad))
            assert hot[0] is std[0] is TypeError
            assert hot[1] == std[1].replace("'set'", "'Set'")  # the message names the operand types

        @rule(a=plain_sets, use_other=st.booleans())
        def binary_operators(self, a, use_other):
            std_operand, hot_operand = (self.other_model, self.other) if use_other else (a, a)
            for op in BINARY:
                assert op(self.hot, hot_operand) == op(self.model, std_operand)
                assert op(std_operand, self.hot) == op(std_operand, self.model)

        @rule(a=plain_sets, b=plain_sets, use_other=st.booleans())
        def algebra_methods(self, a, b, use_other):
            first = self.other if use_other else a
            first_model = self.other_model if use_other else a
            for name in ("union", "intersection", "difference"):
                same(lambda: getattr(self.model, name)(first_model, list(b)), lambda: getattr(self.hot, name)(first, list(b)))
                same(lambda: getattr(self.model, name)(), lambda: getattr(self.hot, name)())
            same(lambda: self.model.symmetric_difference(first_model), lambda: self.hot.symmetric_difference(first))
            for name in ("issubset", "issuperset", "isdisjoint"):
                same(lambda: getattr(self.model, name)(first_model), lambda: getattr(self.hot, name)(first))

        @rule(a=plain_sets, use_other=st.booleans())
        def comparisons(self, a, use_other):
            std_operand, hot_operand = (self.other_model, self.other) if use_other else (a, frozenset(a))
            for op in COMPARE:
                same(lambda: op(self.model, std_operand), lambda: op(self.hot, hot_operand))
                same(lambda: op(std_operand, self.model), lambda: op(hot_operand, self.hot))

        @rule()
        def copies(self):
            self.both(lambda s: (s.copy(), sorted(s, key=repr), bool(s)))

    return SetMachine


def test_set_matches_builtin_set_under_random_operation_sequences(client):
    run_state_machine_as_test(_machine(client), settings=SETTINGS)
