"""Several OS processes editing one List, Set and String at once: nothing is lost or duplicated."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import hotsync

from .. import _list_workers
from .._helpers import join_all, start, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _go(raw, prefix, procs):
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == procs, 60, "workers ready")
    raw.set(f"{prefix}go", 1)


def test_concurrent_appends_adds_and_string_appends_lose_nothing_while_sort_and_upper_run(client, raw, prefix, redis_url):
    procs, n = 4, 150
    workers = [start(_list_workers.append_and_add, redis_url, prefix, w, n) for w in range(procs)]
    lst, text = hotsync.List(key="l", client=client), hotsync.String(key="t", client=client)
    _go(raw, prefix, procs)
    # compare-and-set operations racing with the appends must never drop one; a sort
    # that loses every race gives up with RuntimeError (documented), writing nothing
    applied = 0
    while any(p.is_alive() for p in workers):
        try:
            lst.sort(reverse=True)
            applied += 1
        except RuntimeError as exc:
            assert "changed during each of" in str(exc)
        text.upper()
    join_all(workers, 120)
    assert applied > 0, "no sort won a race: the compare-and-set was not exercised"
    expected = [[w, i] for w in range(procs) for i in range(n)]
    assert sorted(lst.value) == expected
    lst.sort(reverse=True)
    assert lst.value == expected[::-1]
    assert hotsync.Set(key="s", client=client) == {f"{w}:{i}" for w in range(procs) for i in range(n)}
    assert len(text) == procs * n and set(text.value) <= {"a", "A"}


def test_concurrent_inserts_at_random_indexes_and_reverses_lose_nothing(client, raw, prefix, redis_url):
    procs, n = 4, 100
    hotsync.List(["seed"] * 10, key="l", client=client)
    workers = [start(_list_workers.insert_anywhere, redis_url, prefix, w, n, w) for w in range(procs)]
    _go(raw, prefix, procs)
    join_all(workers, 120)
    value = hotsync.List(key="l", client=client).value
    assert Counter(map(json.dumps, value)) == Counter(
        map(json.dumps, ["seed"] * 10 + [[w, i] for w in range(procs) for i in range(n)])
    )


def test_concurrent_pops_at_random_indexes_return_each_element_exactly_once(client, raw, prefix, redis_url):
    procs, n = 4, 100
    items = list(range(300))
    hotsync.List(items, key="l", client=client)
    workers = [start(_list_workers.pop_anywhere, redis_url, prefix, n, seed) for seed in range(procs)]
    _go(raw, prefix, procs)
    join_all(workers, 120)
    popped = [json.loads(v) for v in raw.lrange(f"{prefix}popped", 0, -1)]
    remaining = hotsync.List(key="l", client=client).value
    assert len(popped) > 0
    assert sorted(popped + remaining) == items
