"""Lock benchmark: hotsync vs raw redis-py references, same run, same server.

    python bench/bench_lock.py [--reps 3] [--quick] [--redis URL]

Uncontended: one process, acquire+release of one lock, ops/s, round trips and
server commands per op.  Contended: 8 processes, one lock, a non-atomic
GET/SET counter inside; acquire wait p50/p99/max, handoff p50/p99 (holder's
release() to another process's acquire() returning), fairness (max/min critical
sections per worker), lost updates.

References: ``ref_setnx`` = SET NX PX + Lua compare-and-delete in raw redis-py
(polls every 1 ms when contended), ``ref_fifo`` = the least a fair lock can do in
raw redis-py (FIFO handoff to a blocked waiter; no lease, no fencing, no retry
safety: the contended floor on this machine), ``redis_py`` = redis-py's ``Lock``
(polls every 0.1 s), ``python_redis_lock`` = BLPOP-signalled (if installed).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

import hotsync  # noqa: E402

CAD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# ref_fifo: the least a fair lock can do -- no lease, no fencing, no retry safety.  Take
# the lock or queue the caller's wake-up list; release hands the lock to the first in
# line and wakes it (the wake-up list names a key the script was not given: fine on
# one server, not on a Cluster; hotsync's scripts never do that).
FIFO_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 0
"""
FIFO_RELEASE = """
local nxt = redis.call('LPOP', KEYS[2])
if nxt then
  redis.call('SET', KEYS[1], nxt)
  redis.call('LPUSH', nxt, '1')
  return 1
end
redis.call('DEL', KEYS[1])
return 0
"""
LEASE = 10.0

try:
    import redis_lock as python_redis_lock  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    python_redis_lock = None


# -- lock adapters: each returns (acquire(), release(), token()) for one key ------------------------


def make_lock(system: str, url: str, name: str):
    if system in ("hotsync", "hotsync_fair"):
        client = hotsync.HotClient.from_url(url, metrics=False)
        lock = hotsync.Lock(name, client, lease=LEASE, fair=system == "hotsync_fair")
        return lock.acquire, lock.release
    r = c.raw_client(url)
    if system == "ref_setnx":
        cad = r.register_script(CAD)
        state = {}

        def acquire():
            token = uuid.uuid4().hex
            while not r.set(name, token, nx=True, px=int(LEASE * 1000)):
                time.sleep(0.001)
            state["t"] = token
            return True

        def release():
            cad(keys=[name], args=[state["t"]])

        return acquire, release
    if system == "ref_fifo":
        take, give = r.register_script(FIFO_ACQUIRE), r.register_script(FIFO_RELEASE)
        wake = f"{name}:w:{uuid.uuid4().hex[:12]}"  # this waiter's wake-up list, and its id in line

        def acquire():
            if take(keys=[name, f"{name}:line"], args=[wake]) == 0:
                r.blpop([wake], 0)
            return True

        def release():
            give(keys=[name, f"{name}:line"])

        return acquire, release
    if system == "redis_py":
        lock = r.lock(name, timeout=LEASE)
        return lock.acquire, lock.release
    if system == "python_redis_lock":
        lock = python_redis_lock.Lock(r, name, expire=int(LEASE))
        return lock.acquire, lock.release
    raise ValueError(system)


def systems() -> list[str]:
    found = ["hotsync", "hotsync_fair", "ref_setnx", "ref_fifo", "redis_py"]
    if python_redis_lock is not None:
        found.append("python_redis_lock")
    return found


# -- uncontended ---------------------------------------------------------------------------------


def uncontended(url: str, system: str, seconds: float) -> dict:
    name = f"bench:u:{system}:{uuid.uuid4().hex[:6]}"
    acquire, release = make_lock(system, url, name)
    for _ in range(50):  # warm up: connections, scripts, index registration
        acquire()
        release()
    r = c.raw_client(url)
    with c.RoundTrips() as rt:
        for _ in range(500):
            acquire()
            release()
    c.reset_stats(r)
    for _ in range(200):
        acquire()
        release()
    stats = c.server_commands(r)
    server_cmds = (sum(stats.values()) - stats.get("config|resetstat", 0) - stats.get("config", 0)) / 200
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            acquire()
            release()
        n += 50
    elapsed = time.perf_counter() - start
    return {"ops_s": n / elapsed, "rtt": rt.count / 500, "server_cmds": server_cmds}


# -- contended -----------------------------------------------------------------------------------


def _worker(index: int, url: str, system: str, ns: str, total: int, nprocs: int) -> None:
    r = c.raw_client(url)
    acquire, release = make_lock(system, url, f"{ns}lock")
    c.barrier_wait(r, ns, nprocs)
    records = []
    while r.incr(f"{ns}tickets") <= total:
        t0 = time.monotonic()
        acquire()
        t1 = time.monotonic()
        value = int(r.get(f"{ns}counter") or 0)
        r.set(f"{ns}counter", value + 1)
        t2 = time.monotonic()
        release()
        records.append((t0, t1, t2))
    r.rpush(f"{ns}records", json.dumps({"w": index, "r": records}))
    # stay alive, blocked, until every worker is done: a process exiting (interpreter
    # teardown) takes CPU from the ones still measuring on a small machine
    if r.incr(f"{ns}out") == nprocs:
        r.rpush(f"{ns}go", *["1"] * nprocs)
    r.blpop(f"{ns}go", 120)


def contended(url: str, system: str, nprocs: int, total: int) -> dict:
    ns = f"bench:c:{system}:{uuid.uuid4().hex[:6]}:"
    r = c.raw_client(url)
    start = time.monotonic()
    c.run_workers(_worker, nprocs, (url, system, ns, total, nprocs))
    data = [json.loads(x) for x in r.lrange(f"{ns}records", 0, -1)]
    cs = sorted((t1, t2, d["w"], t0) for d in data for (t0, t1, t2) in d["r"])
    first = min(x[3] for x in cs)
    last = max(x[1] for x in cs)
    waits = [t1 - t0 for (t1, _t2, _w, t0) in cs]
    inside = [t2 - t1 for (t1, t2, _w, _t0) in cs]
    handoffs = [b[0] - a[1] for a, b in zip(cs, cs[1:]) if a[2] != b[2]]
    overlaps = sum(1 for a, b in zip(cs, cs[1:]) if b[0] < a[1])
    counts = [len(d["r"]) for d in data]
    counter = int(r.get(f"{ns}counter") or 0)
    del start
    return {
        "cs_s": len(cs) / (last - first),
        "wait_p50": c.percentile(waits, 50) * 1000,
        "wait_p99": c.percentile(waits, 99) * 1000,
        "wait_max": max(waits) * 1000,
        "cs_p50": c.percentile(inside, 50) * 1000,
        "handoff_p50": c.percentile(handoffs, 50) * 1000,
        "handoff_p99": c.percentile(handoffs, 99) * 1000,
        "fairness": max(counts) / max(min(counts), 1),
        "lost": len(cs) - counter,
        "overlaps": overlaps,
        "counts": counts,
    }


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    seconds = 0.5 if args.quick else 1.5
    total = 400 if args.quick else 2000
    nprocs = 8
    with c.server(args.redis) as url:
        print(c.header("Lock benchmark", url))
        names = systems()
        print("uncontended:")
        un = c.interleave({s: (lambda s=s: uncontended(url, s, seconds)) for s in names}, args.reps)
        print(f"contended ({nprocs} processes, {total} critical sections):")
        co = c.interleave({s: (lambda s=s: contended(url, s, nprocs, total)) for s in names}, args.reps)

    rows = []
    for s in names:
        med, lo, hi = c.summarize([x["ops_s"] for x in un[s]])
        rows.append([s, med, f"{lo:,.0f}-{hi:,.0f}", c.paired(un[s], un["ref_setnx"], "ops_s"), un[s][0]["rtt"],
                     un[s][0]["server_cmds"]])
    print("\n### Uncontended acquire+release (1 process)\n")
    print(c.table(["system", "ops/s (median)", "range", "x ref_setnx", "round trips/op", "server cmds/op"], rows))

    rows = []
    for s in names:
        m = {k: c.summarize([x[k] for x in co[s]])[0] for k in co[s][0] if k != "counts"}
        rows.append([s, m["cs_s"], m["cs_p50"], m["wait_p50"], m["wait_p99"], m["wait_max"], m["handoff_p50"],
                     m["handoff_p99"],
                     m["fairness"], int(max(x["lost"] for x in co[s])), int(max(x["overlaps"] for x in co[s]))])
    print(f"\n### Contended: {nprocs} processes, one lock, {total} critical sections (medians of {args.reps} reps)\n")
    print(c.table(["system", "CS/s", "inside CS p50 ms", "wait p50 ms", "wait p99 ms", "wait max ms", "handoff p50 ms",
                   "handoff p99 ms", "fairness max/min", "lost updates", "overlapping CS"], rows))
    for s in names:
        print(f"- {s} per-worker CS: " + "; ".join(str(x["counts"]) for x in co[s]))
    # Little's law, for a waiter in a FIFO line of all the others: it waits their
    # cycles (critical section, release, handoff to the next); the fastest of each
    # part seen in this run, with any lock, bounds what any lock could do here
    inside = min(c.summarize([x["cs_p50"] for x in co[s]])[0] for s in names)
    handoff = min(c.summarize([x["handoff_p50"] for x in co[s]])[0] for s in names)
    print(f"\nA FIFO waiter waits for the {nprocs - 1} others ahead of it: {nprocs - 1} x (critical section {inside:.2f} ms "
          f"+ handoff {handoff:.2f} ms, the fastest medians of this run, any lock) = "
          f"{(nprocs - 1) * (inside + handoff):.1f} ms typical; its p99 is above that.")
    floor = c.summarize([x["wait_p99"] for x in co["ref_fifo"]])[0]
    print(f"ref_fifo, the least a fair lock can do (no lease, fencing or retry safety), waited {floor:.1f} ms "
          "at p99 in this run: the floor for the contended p99 here.")


if __name__ == "__main__":
    main()
