"""RateLimiter across OS processes: the fleet-wide rate is exact."""

from __future__ import annotations

import pytest

from . import _sem_workers as workers
from ._helpers import join_all, start, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.timeout(60)
@pytest.mark.parametrize("blocking", [False, True], ids=["try_acquire", "blocking_acquire"])
def test_four_processes_hammering_50_per_second_for_3_seconds_get_150_admissions(raw, prefix, redis_url, blocking):
    procs, seconds = 4, 3.0
    ws = [start(workers.hammer_rate_limiter, redis_url, prefix, 50, 1, seconds, blocking, "go") for _ in range(procs)]
    wait_for(lambda: int(raw.get(f"{prefix}ready") or 0) == procs, 60, "workers ready")
    raw.set(f"{prefix}go", 1)
    join_all(ws, 40)
    admitted = [int(x) for x in raw.lrange(f"{prefix}admitted", 0, -1)]
    asked = [int(x) for x in raw.lrange(f"{prefix}asked", 0, -1)]
    assert len(admitted) == procs
    assert 140 <= sum(admitted) <= 160, admitted
    assert all(a > 0 for a in admitted)  # every process got a share
    if not blocking:
        assert sum(asked) > 2 * sum(admitted)  # they really hammered: most requests were refused
