"""Semaphore: 3 permits shared by 8 processes, 1 ms hold, acquisitions per second.

Every worker loops: ``INCR tickets`` (outside; stops at the fixed total) ->
blocking acquire -> ``INCR inside`` (the reply is the number inside, recorded)
-> hold (sleep) -> ``DECR inside`` -> release.  Systems, interleaved per rep on
the same server:

* ``hotsync`` -- ``hotsync.Semaphore(3)`` (a token list with leased holders:
  waiters block in BLMOVE, a dead holder's tokens are reaped after its lease);
* ``hotsync_fair`` -- ``hotsync.Semaphore(3, fair=True)`` (FIFO line);
* ``ref_list_tokens`` -- raw redis-py: a list of 3 tokens, ``BLPOP`` to acquire,
  ``LPUSH`` to release (fast and FIFO, but a crashed holder's token is lost
  for good).

Besides throughput the table shows the largest number of holders seen inside
(INCR reply), fairness (most / fewest acquisitions per worker), commands and
round trips per acquisition, and the CPU spent per acquisition by the workers
and by redis-server (on a 2-core box the run is CPU-bound: leases cost CPU).

Run: ``python bench/bench_semaphore.py [--quick] [--reps N] [--hold MS] [--redis URL]``.
"""

from __future__ import annotations

import resource
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
    server_cpu,
    summarize,
    table,
)

import hotsync

PERMITS = 3
PROCS = 8


def _loop(i: int, url: str, prefix: str, total: int, hold: float, acquire: Any, release: Any) -> None:
    r = raw_client(url)
    barrier_wait(r, f"{prefix}bar", PROCS)
    done = most = 0
    with RoundTrips() as rt:
        cpu0 = time.process_time()
        csw0 = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        start = time.time()
        while r.incr(f"{prefix}tickets") <= total:
            acquire()
            inside = r.incr(f"{prefix}inside")
            most = max(most, inside)
            time.sleep(hold)
            r.decr(f"{prefix}inside")
            release()
            done += 1
        end = time.time()
        cpu = time.process_time() - cpu0
        csw = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - csw0
    r.rpush(f"{prefix}results", f"{done} {most} {rt.count} {start} {end} {cpu} {csw}")


def hotsync_worker(i: int, url: str, prefix: str, total: int, hold: float, fair: bool) -> None:
    c = hotsync.HotClient.from_url(url, key_prefix=prefix, metrics=False, socket_timeout=None)
    sem = hotsync.Semaphore(PERMITS, "sem", c, lease=10, fair=fair)
    _loop(i, url, prefix, total, hold, sem.acquire, sem.release)


def ref_worker(i: int, url: str, prefix: str, total: int, hold: float, fair: bool) -> None:
    r = raw_client(url)
    tokens = f"{prefix}tokens"
    _loop(i, url, prefix, total, hold, lambda: r.blpop([tokens], 0), lambda: r.lpush(tokens, "1"))


def run(url: str, name: str, worker: Any, total: int, hold: float, fair: bool, rep: list[int]) -> dict[str, Any]:
    rep[0] += 1
    prefix = f"b{rep[0]}{name}:"
    r = raw_client(url)
    if worker is ref_worker:
        r.rpush(f"{prefix}tokens", *["1"] * PERMITS)
    reset_stats(r)
    redis_cpu0 = server_cpu(r)
    run_workers(worker, PROCS, (url, prefix, total, hold, fair))
    cmds = server_commands(r)
    rows = [line.split() for line in r.lrange(f"{prefix}results", 0, -1)]
    counts = [int(x[0]) for x in rows]
    most = max(int(x[1]) for x in rows)
    rtt = sum(int(x[2]) for x in rows)
    wall = max(float(x[4]) for x in rows) - min(float(x[3]) for x in rows)
    cpu = sum(float(x[5]) for x in rows)
    csw = sum(int(x[6]) for x in rows)
    acquired = sum(counts)
    redis_cpu = server_cpu(r) - redis_cpu0
    # server commands of the workload proper (the barrier's GETs/INCRs excluded)
    workload = sum(v for k, v in cmds.items() if k not in ("get", "info", "config|resetstat", "config", "rpush"))
    r.close()
    return {
        "acq_s": acquired / wall,
        "max_inside": most,
        "violations": int(most > PERMITS),
        "fairness": max(counts) / max(min(counts), 1),
        "rtt_acq": (rtt - len(rows)) / acquired,  # minus the final INCR that found no ticket left
        "cmds_acq": workload / acquired,
        "cpu_us": cpu / acquired * 1e6,
        "csw": csw / acquired,
        "redis_cpu_us": redis_cpu / acquired * 1e6,
        "correct": acquired == total and most <= PERMITS,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--hold", type=float, default=1.0, help="hold time in ms (default 1)")
    args = p.parse_args()
    hold = args.hold / 1000
    total = 400 if args.quick else 2000
    systems = {
        "hotsync": (hotsync_worker, False, "hotsync.Semaphore: token list, leased holders, BLMOVE to acquire / LMOVE to release"),
        "hotsync_fair": (hotsync_worker, True, "hotsync.Semaphore(fair=True): FIFO line, per-waiter wake-ups"),
        "ref_list_tokens": (ref_worker, False, "reference: token list, BLPOP to acquire / LPUSH to release"),
    }
    with server(args.redis) as url:
        rep = [0]
        results = interleave(
            {name: (lambda w=w, f=f, n=name: run(url, n, w, total, hold, f, rep)) for name, (w, f, _) in systems.items()},
            args.reps,
        )
        print()
        print(header(f"Semaphore ({PERMITS} permits, {PROCS} processes, {total} acquisitions, hold {args.hold:g} ms)",
                     url))
        rows = []
        for name, (_, _, how) in systems.items():
            res = results[name]
            med, lo, hi = summarize([x["acq_s"] for x in res])
            rows.append([
                f"`{name}`", how, med, f"{lo:,.0f}–{hi:,.0f}", paired(res, results["ref_list_tokens"], "acq_s"),
                max(x["max_inside"] for x in res), sum(x["violations"] for x in res),
                summarize([x["fairness"] for x in res])[0], summarize([x["cmds_acq"] for x in res])[0],
                summarize([x["rtt_acq"] for x in res])[0], summarize([x["cpu_us"] for x in res])[0],
                summarize([x["csw"] for x in res])[0],
                summarize([x["redis_cpu_us"] for x in res])[0], "yes" if all(x["correct"] for x in res) else "NO",
            ])
        print(table(
            ["system", "implementation", "acq/s (median)", "range", "× ref", "max concurrency seen", "violations",
             "fairness max/min", "server cmds/acq", "client RTT/acq",
             "client CPU µs/acq", "client waits/acq", "server CPU µs/acq", "correct"],
            rows,
        ))
        print(f"\nIdeal = permits / hold = {PERMITS / hold:,.0f}/s. Per acquisition the workload adds 3 commands "
              f"(INCR tickets, INCR inside, DECR inside), counted in both columns. reps={args.reps}.")


if __name__ == "__main__":
    main()
