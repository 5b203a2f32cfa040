"""100,000-element lists through every operation that rewrites the list: nothing is lost."""

from __future__ import annotations

import random

import pytest

from hotsync import List

pytestmark = pytest.mark.timeout(120)

N = 100_000


@pytest.fixture
def big(client):
    """A 100k List and the list it must equal."""
    items = list(range(N))
    return List(items, client=client), items


def check(lst, ref):
    assert len(lst) == len(ref)
    assert lst.value == ref


def test_reverse_insert_pop_and_del_in_the_middle_of_a_100k_list(big):
    lst, ref = big
    lst.reverse()
    ref.reverse()
    check(lst, ref)
    for i in (N // 2, -N // 3, 1, N - 10):
        lst.insert(i, "x")
        ref.insert(i, "x")
        assert lst.pop(i + 1) == ref.pop(i + 1)
        del lst[-i]
        del ref[-i]
    check(lst, ref)


def test_sort_of_a_100k_list_with_a_key(big):
    lst, ref = big
    random.Random(1).shuffle(ref)
    lst.value = ref
    lst.sort(key=lambda v: (v % 7, -v))
    ref.sort(key=lambda v: (v % 7, -v))
    check(lst, ref)


def test_slice_assignment_and_deletion_of_a_100k_list(big):
    lst, ref = big
    for target, values in [
        (slice(10, 60_000), lambda: ["a", "b"]),  # shrink in the middle
        (slice(5, 6), lambda: list(range(5000))),  # grow in the middle
        (slice(None, None, 2), lambda: [-v for v in range(len(ref[::2]))]),  # stride, > 1000 positions
        (slice(-10, None), list),  # cut the tail
        (slice(None, 7), list),  # cut the head
    ]:
        values = values()
        lst[target] = values
        ref[target] = values
        check(lst, ref)
    del lst[::3]
    del ref[::3]
    check(lst, ref)


def test_repeat_and_extend_of_a_100k_list(big):
    lst, ref = big
    lst *= 2
    ref *= 2
    lst += ["tail"] * 3000
    ref += ["tail"] * 3000
    check(lst, ref)
    assert lst[::-997] == ref[::-997]
    assert lst[150_000:150_010] == ref[150_000:150_010]
