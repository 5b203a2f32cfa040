"""Shared benchmark harness: one server, systems interleaved, medians, a table.

Every benchmark in ``bench/`` measures hotsync and a raw redis-py reference doing
the same work, in the same run, against the same server, and prints a markdown
table.  Targets live here, never in unit tests.

Conventions:

* ``--redis URL`` (or ``$REDIS_URL``) uses an existing server; otherwise a
  private one is started (``hotsync._embedded``) and stopped at the end.
* ``--reps N``: each system runs N times, interleaved in ABBA order (A, B, then
  B, A...), so machine drift hits them alike; the table shows medians and ranges.
  A ratio to the reference is the median of the per-rep ratios (:func:`paired`):
  on a shared machine whose speed drifts by tens of percent within minutes, a
  ratio of two runs made seconds apart is steadier than a ratio of two medians.
* Round trips are counted client-side (every socket write of a command or a
  pipeline is one); server commands come from ``INFO commandstats`` deltas,
  which include commands run inside Lua.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hotsync._embedded import RedisServer

SPAWN = multiprocessing.get_context("spawn")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--redis", default=os.environ.get("REDIS_URL"), help="use this server (default: a private one)")
    p.add_argument("--reps", type=int, default=3, help="repetitions per system (interleaved)")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    return p


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    """Yield a Redis URL: ``url`` or a private server started for the run."""
    if url:
        yield url
        return
    with RedisServer() as srv:
        yield srv.url


def raw_client(url: str) -> redis.Redis:
    """The reference client: redis-py with hiredis, no retries, no socket timeout."""
    return redis.Redis.from_url(url, socket_timeout=None, retry=Retry(NoBackoff(), 0))


class RoundTrips:
    """Counts socket writes of redis-py connections in this process."""

    def __init__(self) -> None:
        self.count = 0
        self._orig: Any = None

    def __enter__(self) -> RoundTrips:
        from redis.connection import AbstractConnection

        self._orig = AbstractConnection.send_packed_command
        counter = self

        def counting(conn: Any, command: Any, check_health: bool = True) -> Any:
            counter.count += 1
            return counter._orig(conn, command, check_health)

        AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from redis.connection import AbstractConnection

        AbstractConnection.send_packed_command = self._orig  # type: ignore[method-assign]


def server_commands(r: redis.Redis) -> dict[str, int]:
    """Calls per command since the last ``CONFIG RESETSTAT``."""
    stats = r.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


def reset_stats(r: redis.Redis) -> None:
    r.config_resetstat()


def pin(cpu: int | None) -> None:
    """Pin this process to one CPU (None: leave it to the kernel)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def pinned_server(url: str, cpu: int | None) -> Iterator[None]:
    """Pin the redis-server at ``url`` (a process on this machine: its pid comes from
    INFO) to ``cpu`` for the block, then give it every CPU back.  None: do nothing."""
    if cpu is None:
        yield
        return
    r = raw_client(url)
    pid = int(r.info("server")["process_id"])
    r.close()
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
    except OSError:
        comm = ""
    if "redis" not in comm and "valkey" not in comm:  # a server elsewhere: that pid is not it
        raise SystemExit(f"cannot pin {url}: its pid {pid} is not a redis-server on this machine")
    allowed = os.sched_getaffinity(pid)
    os.sched_setaffinity(pid, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(pid, allowed)


def server_cpu(r: redis.Redis) -> float:
    """CPU seconds (user + system) redis-server has used since it started."""
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def summarize(values: Sequence[float]) -> tuple[float, float, float]:
    """median, min, max."""
    return statistics.median(values), min(values), max(values)


def ratios(runs: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]], field: str) -> list[float]:
    """Per rep, ``runs[i][field] / refs[i][field]`` (rep i of each)."""
    return [a[field] / b[field] for a, b in zip(runs, refs)]


def paired(runs: Sequence[dict[str, Any]], refs: Sequence[dict[str, Any]], field: str) -> float:
    """The median over reps of ``runs[i][field] / refs[i][field]`` (rep i of each)."""
    return statistics.median(ratios(runs, refs, field))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(int(round(q / 100 * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[idx]


def interleave(systems: dict[str, Callable[[], dict[str, Any]]], reps: int) -> dict[str, list[dict[str, Any]]]:
    """Run each system ``reps`` times, interleaved; return their result dicts.

    Odd reps run the systems in reverse order (A, B, C, then C, B, A...): a system
    is not always the one that runs right after another's teardown, and a steady
    drift of the machine's speed cancels out of the per-rep ratios."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
    for rep in range(reps):
        order = list(systems.items())
        for name, run in (order if rep % 2 == 0 else order[::-1]):
            results[name].append(run())
            print(f"  rep {rep + 1}/{reps} {name}: {_short(results[name][-1])}", flush=True)
    return results


def _short(result: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
                     if not isinstance(v, (list, dict)))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def header(title: str, url: str) -> str:
    r = raw_client(url)
    info = r.info("server")
    r.close()
    cpus = f"{os.cpu_count()} CPUs"
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) != os.cpu_count():
        cpus += f", this run on {len(os.sched_getaffinity(0))} (taskset)"
    return (
        f"## {title}\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}, Python {platform.python_version()}, redis-py {redis.__version__}, "
        f"server {info.get('redis_version')}, {cpus}\n"
    )


def run_workers(target: Callable[..., None], n: int, args: tuple, timeout: float = 300) -> None:
    """Start ``n`` spawned processes running ``target(i, *args)``; wait for all."""
    procs = [SPAWN.Process(target=target, args=(i, *args), daemon=True) for i in range(n)]
    for p in procs:
        p.start()
    end = time.monotonic() + timeout
    for p in procs:
        p.join(max(end - time.monotonic(), 0.1))
    late = [p for p in procs if p.is_alive()]
    for p in late:
        p.kill()
    if late or any(p.exitcode for p in procs):
        raise RuntimeError(f"workers failed: exit codes {[p.exitcode for p in procs]}")


def barrier_wait(r: redis.Redis, key: str, n: int) -> None:
    """Start n processes together: each counts in, then waits for the last."""
    r.incr(f"{key}:in")
    while int(r.get(f"{key}:in") or 0) < n:
        time.sleep(0.0005)
