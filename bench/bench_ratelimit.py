"""RateLimiter: decisions per second from one client, and the fleet's achieved rate.

Part 1, one process, one connection, as many decisions as it can make:

* ``hotsync`` -- ``hotsync.RateLimiter(...).try_acquire()`` (GCRA in Lua, server clock);
* ``limits_fixed`` -- the ``limits`` package's ``FixedWindowRateLimiter.hit()`` on
  ``RedisStorage`` (same server).

"allow": the limit is never reached; "deny": every measured decision is a refusal.

Part 2, the fleet: P processes call a blocking acquire in a loop for D seconds
against one shared limit of R per second (burst 1); achieved = admissions / D.
``limits`` has no blocking acquire, so its loop is hit(), and on a refusal sleep
until the window resets (what a user would write).  "max in 100 ms" shows how
evenly the admissions are spread (the configured rate allows 1 + R / 10).

Run: ``python bench/bench_ratelimit.py [--quick] [--reps N] [--redis URL]``.
"""

from __future__ import annotations

import time
from typing import Any

from _common import (
    RoundTrips,
    barrier_wait,
    header,
    interleave,
    paired,
    parser,
    raw_client,
    reset_stats,
    run_workers,
    server,
    server_commands,
    summarize,
    table,
)

import hotsync

FLEET_PROCS = 4
FLEET_RATE = 100.0


# -- part 1: decisions per second -------------------------------------------------------


def _decider(system: str, url: str, prefix: str, allow: bool) -> Any:
    if system == "hotsync":
        c = hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)
        if allow:
            limiter = hotsync.RateLimiter(10**6, burst=10**6, key="decide", client=c)
        else:
            limiter = hotsync.RateLimiter(10, per=60, key="decide", client=c)
        return limiter.try_acquire
    from limits import parse
    from limits.storage import RedisStorage
    from limits.strategies import FixedWindowRateLimiter

    storage = RedisStorage(url, key_prefix=f"{prefix}LIMITS")
    strategy = FixedWindowRateLimiter(storage)
    item = parse("1000000000/minute" if allow else "10/minute")
    return lambda: strategy.hit(item, "decide")


def decisions(url: str, system: str, allow: bool, seconds: float, rep: list[int]) -> dict[str, Any]:
    rep[0] += 1
    prefix = f"d{rep[0]}:"
    decide = _decider(system, url, prefix, allow)
    for _ in range(10 if allow else 20):  # warm up (and, for deny, use up the limit)
        decide()
    r = raw_client(url)
    reset_stats(r)
    n = admitted = 0
    with RoundTrips() as rt:
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            admitted += bool(decide())
            n += 1
        wall = time.perf_counter() - start
    cmds = server_commands(r)
    r.close()
    server = sum(v for k, v in cmds.items() if k not in ("info", "config|resetstat", "config"))
    return {"per_s": n / wall, "rtt": rt.count / n, "cmds": server / n, "admitted": admitted / n}


# -- part 2: the fleet's achieved rate --------------------------------------------------


def hotsync_fleet(i: int, url: str, prefix: str, seconds: float) -> None:
    c = hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False)
    limiter = hotsync.RateLimiter(FLEET_RATE, burst=1, key="fleet", client=c)
    r = raw_client(url)
    barrier_wait(r, f"{prefix}bar", FLEET_PROCS)
    start = float(r.get(f"{prefix}t0") or 0) or _set_t0(r, prefix)
    end = start + seconds
    stamps = []
    while True:
        left = end - time.time()
        if left <= 0 or not limiter.acquire(timeout=left):
            break
        stamps.append(time.time())
    r.rpush(f"{prefix}stamps", *[repr(s) for s in stamps if s <= end] or ["-1"])


def limits_fleet(i: int, url: str, prefix: str, seconds: float) -> None:
    from limits import RateLimitItemPerSecond
    from limits.storage import RedisStorage
    from limits.strategies import FixedWindowRateLimiter

    strategy = FixedWindowRateLimiter(RedisStorage(url, key_prefix=f"{prefix}LIMITS"))
    item = RateLimitItemPerSecond(int(FLEET_RATE))
    r = raw_client(url)
    barrier_wait(r, f"{prefix}bar", FLEET_PROCS)
    start = float(r.get(f"{prefix}t0") or 0) or _set_t0(r, prefix)
    end = start + seconds
    stamps = []
    while time.time() < end:
        if strategy.hit(item, "fleet"):
            stamps.append(time.time())
        else:
            reset = strategy.get_window_stats(item, "fleet").reset_time
            time.sleep(min(max(reset - time.time(), 0.0005), max(end - time.time(), 0)))
    r.rpush(f"{prefix}stamps", *[repr(s) for s in stamps if s <= end] or ["-1"])


def _set_t0(r: Any, prefix: str) -> float:
    now = time.time()
    r.set(f"{prefix}t0", repr(now), nx=True)
    return float(r.get(f"{prefix}t0"))


def fleet(url: str, worker: Any, seconds: float, rep: list[int]) -> dict[str, Any]:
    rep[0] += 1
    prefix = f"f{rep[0]}:"
    r = raw_client(url)
    run_workers(worker, FLEET_PROCS, (url, prefix, seconds))
    stamps = sorted(float(s) for s in r.lrange(f"{prefix}stamps", 0, -1) if float(s) > 0)
    r.close()
    window, most, j = 0.1, 0, 0
    for k, s in enumerate(stamps):
        while stamps[j] < s - window:
            j += 1
        most = max(most, k - j + 1)
    achieved = len(stamps) / seconds
    return {"achieved": achieved, "error_pct": (achieved - FLEET_RATE) / FLEET_RATE * 100, "max_100ms": most}


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    seconds = 0.5 if args.quick else 1.5
    fleet_seconds = 3.0 if args.quick else 10.0
    with server(args.redis) as url:
        rep = [0]
        runs = {}
        for system in ("hotsync", "limits_fixed"):
            for allow in (True, False):
                runs[f"{system}/{'allow' if allow else 'deny'}"] = (
                    lambda s=system, a=allow: decisions(url, s, a, seconds, rep)
                )
        results = interleave(runs, args.reps)
        fleet_results = interleave(
            {"hotsync": lambda: fleet(url, hotsync_fleet, fleet_seconds, rep),
             "limits_fixed": lambda: fleet(url, limits_fleet, fleet_seconds, rep)},
            args.reps,
        )
        print()
        print(header("Rate limiter", url))
        print(f"### Decisions per second, one client ({seconds:g} s per rep, reps={args.reps})\n")
        how = {
            "hotsync": "hotsync.RateLimiter.try_acquire(): GCRA, one Lua call, server clock",
            "limits_fixed": "limits FixedWindowRateLimiter.hit() on RedisStorage",
        }
        rows = []
        for system in ("hotsync", "limits_fixed"):
            row: list[Any] = [f"`{system}`", how[system]]
            for mode in ("allow", "deny"):
                res = results[f"{system}/{mode}"]
                med, lo, hi = summarize([x["per_s"] for x in res])
                row += [med, f"{lo:,.0f}–{hi:,.0f}", paired(res, results[f"limits_fixed/{mode}"], "per_s")]
            res = results[f"{system}/allow"]
            row += [summarize([x["rtt"] for x in res])[0], summarize([x["cmds"] for x in res])[0]]
            rows.append(row)
        print(table(
            ["system", "implementation", "allow decisions/s", "range", "× limits", "deny decisions/s", "range",
             "× limits", "RTT/decision", "server cmds/decision (incl. Lua)"],
            rows,
        ))
        print(f"\n### Fleet: {FLEET_PROCS} processes, one limit of {FLEET_RATE:g}/s (burst 1), "
              f"{fleet_seconds:g} s, reps={args.reps}\n")
        rows = []
        for system, res in fleet_results.items():
            med = summarize([x["achieved"] for x in res])[0]
            rows.append([
                f"`{system}`",
                "blocking acquire(): one reservation, one sleep" if system == "hotsync"
                else "hit(); on refusal sleep until the window resets",
                FLEET_RATE, med, summarize([x["error_pct"] for x in res])[0],
                f"{min(x['error_pct'] for x in res):+.2f}…{max(x['error_pct'] for x in res):+.2f}",
                max(x["max_100ms"] for x in res),
            ])
        print(table(["system", "loop", "configured/s", "achieved/s (median)", "error % (median)", "error % range",
                     "max admitted in any 100 ms"], rows))
        print(f"\nThe configured limit allows at most {1 + FLEET_RATE / 10:g} admissions in any 100 ms.")


if __name__ == "__main__":
    main()
