"""String against str (and a list of characters for edits): random operation sequences, compared after every step."""

from __future__ import annotations

import operator
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import hotsync

from ._seq_parity import same

# 1-, 2-, 3- and 4-byte UTF-8 characters, and a lone surrogate (stored as its 3-byte form)
CHARS = ["a", "b", " ", "é", "€", "😀", "\ud800"]
texts = st.lists(st.sampled_from(CHARS), max_size=4).map("".join)
ints = st.integers(-7, 7)
bounds = st.none() | ints
slices = st.builds(slice, bounds, bounds, st.none() | st.integers(-3, 3))
odd_indexes = st.sampled_from([1.5, "1", None, 2**70])

SETTINGS = settings(
    max_examples=80,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def edited(text: str, index, repl: str | None) -> str:
    """What String does for ``s[index] = repl`` (``None``: ``del s[index]``): list-of-characters semantics.

    Index checks are str's (``""[index]``); out-of-range messages say "string".
    """
    try:
        ""[index]
    except IndexError as exc:
        if str(exc) != "string index out of range":
            raise
    chars = list(text)
    try:
        if repl is None:
            del chars[index]
        elif isinstance(index, slice):
            chars[index] = list(repl)
        else:
            chars[index] = repl
    except IndexError:
        raise IndexError("string assignment index out of range") from None
    return "".join(chars)


def _machine(client):
    class StringMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.model = ""
            self.hot = hotsync.String(key=f"parity:{uuid.uuid4().hex}", client=client)

        def both(self, fn):
            return same(lambda: fn(self.model), lambda: fn(self.hot))

        def edit(self, index, repl):
            def on_model(_):
                self.model = edited(self.model, index, repl)

            if repl is None:
                same(lambda: on_model(None), lambda: self.hot.__delitem__(index))
            else:
                same(lambda: on_model(None), lambda: self.hot.__setitem__(index, repl))

        @invariant()
        def text_agrees(self):
            assert self.hot.value == self.model
            assert len(self.hot) == len(self.model)
            assert bool(self.hot) == bool(self.model)

        @rule(t=texts)
        def iadd(self, t):
            self.model += t
            hot = self.hot
            hot += t
            assert hot is self.hot

        @rule(n=st.integers(-1, 3))
        @precondition(lambda self: len(self.model) < 30)
        def imul(self, n):
            self.model *= n
            hot = self.hot
            hot *= n
            assert hot is self.hot

        @rule(i=ints | odd_indexes, t=texts)
        def set_item(self, i, t):
            self.edit(i, t)

        @rule(s=slices, t=texts)
        def set_slice(self, s, t):
            self.edit(s, t)

        @rule(i=ints | odd_indexes | slices)
        def delete(self, i):
            self.edit(i, None)

        @rule(t=texts)
        def assign_value(self, t):
            self.model = t
            self.hot.value = t

        @rule(
            name=st.sampled_from(["upper", "lower", "title", "swapcase", "casefold", "capitalize", "strip", "zfill"]),
        )
        def transform(self, name):
            args = (6,) if name == "zfill" else ()
            result = self.both(lambda s: getattr(s, name)(*args))
            self.model = result

        @rule(old=texts, new=texts, count=st.integers(-1, 2))
        def replace(self, old, new, count):
            self.model = self.both(lambda s: s.replace(old, new, count))

        @rule(parts=st.lists(texts, max_size=3))
        def join(self, parts):
            self.model = self.both(lambda s: s.join(parts))

        @rule(i=ints | odd_indexes | slices)
        def get_item(self, i):
            self.both(lambda s: s[i])

        @rule(t=texts)
        def queries(self, t):
            self.both(lambda s: (t in s, s.find(t), s.count(t), s.split(t) if t else s.split(), s.startswith(t)))
            self.both(lambda s: (s.index(t), s.rpartition(t) if t else None))
            self.both(lambda s: (s + t, t + s, s * 2, list(iter(s)), list(reversed(s)), f"{s:>9}"))
            for op in (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge):
                self.both(lambda s: (op(s, t), op(t, s)))

        @rule(bad=st.sampled_from([1, None, ["a"]]))
        def bad_operands(self, bad):
            self.both(lambda s: bad in s)
            self.both(lambda s: s + bad)
            self.both(lambda s: s * 1.5)

    return StringMachine


def test_string_matches_str_under_random_operation_sequences(client):
    run_state_machine_as_test(_machine(client), settings=SETTINGS)
