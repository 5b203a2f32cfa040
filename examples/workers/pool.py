"""A multi-host worker pool on hotsync.

A producer enqueues jobs; workers on any number of hosts take them from one
reliable queue, call a fragile upstream (at most 3 calls at once fleet-wide, at
most ``--rate`` calls per second fleet-wide), and record each job's amount in a
shared ledger under a lock.  One worker at a time is the leader (a Lock) and
runs a periodic task.  Every worker process serves its own Prometheus metrics.

    python pool.py produce --jobs 1000                 # once, anywhere
    python pool.py worker --processes 4 --metrics-port 9710   # on every host
    python pool.py local --jobs 400 --workers 4        # everything on this host

Every process must use the same Redis (``--redis`` or ``$REDIS_URL``) and the same
``--namespace``.  See README.md next to this file.

What to look at: a job whose worker dies (SIGKILL, power off) is redelivered
after the lease; a job that keeps failing ("poison") lands in the dead letters
after 3 attempts; handlers are idempotent (at-least-once delivery), so the
ledger counts every job exactly once; the fencing token of the ledger lock only
grows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import hotsync

LEASE = 2.0  # seconds a silent worker keeps its job / a dead holder keeps a lock
UPSTREAM_SLOTS = 3  # the fragile upstream takes at most 3 concurrent calls
MAX_ATTEMPTS = 3

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Pool:
    """The shared objects of one pool, identical on every host."""

    client: hotsync.HotClient
    ns: str
    rate: float

    def __post_init__(self) -> None:
        c, ns = self.client, self.ns
        self.jobs = hotsync.Queue(key=f"{ns}:jobs", client=c, lease=LEASE, max_attempts=MAX_ATTEMPTS)
        self.upstream = hotsync.Semaphore(UPSTREAM_SLOTS, key=f"{ns}:upstream", client=c, lease=LEASE)
        self.api = hotsync.RateLimiter(self.rate, per=1.0, burst=max(1, int(self.rate / 20)), key=f"{ns}:api",
                                       client=c)
        self.ledger_lock = hotsync.Lock(f"{ns}:ledger-lock", c, lease=LEASE)
        self.leader = hotsync.Lock(f"{ns}:leader", c, lease=LEASE)
        self.ledger = hotsync.Int(key=f"{ns}:ledger", client=c)
        self.last_token = hotsync.Int(key=f"{ns}:ledger-token", client=c)
        self.done = hotsync.Set(key=f"{ns}:done", client=c)
        self.stats = hotsync.Counter(key=f"{ns}:stats", client=c)
        self.waits = hotsync.List(key=f"{ns}:lock-waits", client=c)


# -- producer ---------------------------------------------------------------------------


def produce(pool: Pool, jobs: int, poison_every: int = 50, seed: int = 7) -> int:
    """Enqueue ``jobs`` jobs in batches; every ``poison_every``-th one always fails."""
    rng = random.Random(seed)
    batch = []
    for i in range(jobs):
        batch.append({"id": i, "amount": rng.randint(1, 100), "poison": poison_every > 0 and i % poison_every == 7})
        if len(batch) == 500:
            pool.jobs.put_many(batch)
            batch = []
    if batch:
        pool.jobs.put_many(batch)
    return jobs


def expected_total(jobs: int, poison_every: int = 50, seed: int = 7) -> tuple[int, int]:
    """(sum of the amounts of good jobs, number of poison jobs) for a produce() run."""
    rng = random.Random(seed)
    total = poison = 0
    for i in range(jobs):
        amount = rng.randint(1, 100)
        if poison_every > 0 and i % poison_every == 7:
            poison += 1
        else:
            total += amount
    return total, poison


# -- worker -------------------------------------------------------------------------------


class PoisonError(RuntimeError):
    """The upstream rejects this job every time."""


def handle(pool: Pool, job: dict, attempts: int, work: float, waits: list[float]) -> None:
    """One job: rate limit, a bounded call to the upstream, then the ledger (idempotent)."""
    if attempts > 1:
        pool.stats.update(["redelivered"])
    pool.api.acquire()  # sleeps exactly until the fleet may make another call
    with pool.upstream:  # at most UPSTREAM_SLOTS callers at once, across hosts
        time.sleep(work)  # the upstream call
        if job["poison"]:
            raise PoisonError(f"upstream rejected job {job['id']}")
    start = time.perf_counter()
    with pool.ledger_lock:
        waits.append(time.perf_counter() - start)
        token = pool.ledger_lock.token
        if token <= int(pool.last_token):
            pool.stats.update(["stale_tokens"])  # never happens: tokens only grow
        pool.last_token.value = token
        if job["id"] not in pool.done:  # at-least-once delivery: count each job once
            total = int(pool.ledger) + job["amount"]  # read-modify-write, safe under the lock
            with hotsync.transaction(pool.client):  # both or neither: a worker killed between them
                pool.ledger.value = total           # would count its redelivered job twice
                pool.done.add(job["id"])
    pool.stats.update(["processed"])


def lead(pool: Pool, stop: threading.Event) -> None:
    """Leader election: whoever holds the leader lock runs the periodic task."""
    while not stop.is_set():
        if not pool.leader.acquire(timeout=1.0):
            continue
        try:
            while not stop.is_set() and not pool.leader.lost.is_set():
                pool.stats.update(["leader_ticks"])
                pool.jobs.reap()  # redeliver jobs of workers whose lease ran out, promptly
                stop.wait(0.5)
        finally:
            if pool.leader.owned():
                pool.leader.release()


def worker_main(index: int, url: str, ns: str, rate: float, work: float, metrics_port: int | None) -> None:
    """One worker process: serve metrics, join the leader election, consume jobs until stopped."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port + index, addr="127.0.0.1")
    pool = Pool(hotsync.HotClient.from_url(url), ns, rate)
    threading.Thread(target=lead, args=(pool, stop), daemon=True).start()
    waits: list[float] = []
    parent = os.getppid()
    try:
        while not stop.is_set() and os.getppid() == parent:  # never outlive the launcher
            try:
                msg = pool.jobs.reserve(timeout=0.5)
            except hotsync.Empty:
                continue
            try:
                with msg:  # acked when the block succeeds, given back (nacked) when it raises
                    handle(pool, msg.value, msg.attempts, work, waits)
            except PoisonError:
                pool.stats.update(["failed"])
    finally:
        stop.set()
        if waits:
            pool.waits.extend(round(w, 6) for w in waits)


# -- running a pool on this host ----------------------------------------------------------------


@dataclass
class Summary:
    jobs: int
    processed: int
    done: int
    dead: int
    redelivered: int
    failed_attempts: int
    ledger: int
    expected_ledger: int
    stale_tokens: int
    leader_ticks: int
    wait_p50_ms: float
    wait_p99_ms: float
    seconds: float
    rate: float
    killed: list[int] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.jobs - self.done - self.dead

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.ledger == self.expected_ledger and self.stale_tokens == 0

    def render(self) -> str:
        achieved = self.processed / self.seconds if self.seconds else 0.0
        rows = [
            ("jobs produced", f"{self.jobs:,}"),
            ("jobs done", f"{self.done:,}"),
            ("dead letters (poison jobs)", f"{self.dead:,}"),
            ("lost", f"{self.lost}"),
            ("redeliveries", f"{self.redelivered:,}" + (
                f"  (incl. the job of worker {', '.join(map(str, self.killed))}, SIGKILLed mid-run)"
                if self.killed else "")),
            ("failed attempts", f"{self.failed_attempts:,}"),
            ("ledger (lock-protected sum)", f"{self.ledger:,} of {self.expected_ledger:,} expected"),
            ("ledger lock wait p50 / p99", f"{self.wait_p50_ms:.2f} ms / {self.wait_p99_ms:.2f} ms"),
            ("fencing tokens monotonic", "yes" if self.stale_tokens == 0 else f"NO ({self.stale_tokens})"),
            ("leader ticks", f"{self.leader_ticks:,}"),
            ("rate achieved", f"{achieved:,.0f} jobs/s (fleet limit {self.rate:,.0f}/s)"),
            ("elapsed", f"{self.seconds:.1f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"  {k:<{width}}  {v}" for k, v in rows]
        lines.append(f"  {'result':<{width}}  {'OK: nothing lost' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)]


def summarize(pool: Pool, jobs: int, seconds: float, killed: list[int]) -> Summary:
    stats = pool.stats.value
    waits = [float(w) for w in pool.waits.value]
    expected, _poison = expected_total(jobs)
    return Summary(
        jobs=jobs,
        processed=stats.get("processed", 0),
        done=len(pool.done),
        dead=pool.jobs.dead_count(),
        redelivered=stats.get("redelivered", 0),
        failed_attempts=stats.get("failed", 0),
        ledger=int(pool.ledger),
        expected_ledger=expected,
        stale_tokens=stats.get("stale_tokens", 0),
        leader_ticks=stats.get("leader_ticks", 0),
        wait_p50_ms=_percentile(waits, 0.5) * 1000,
        wait_p99_ms=_percentile(waits, 0.99) * 1000,
        seconds=seconds,
        rate=pool.rate,
        killed=killed,
    )


def run_local(url: str, *, jobs: int = 400, workers: int = 4, rate: float = 150.0, work: float = 0.005,
              chaos: bool = True, metrics_port: int | None = None, exporter_port: int | None = None,
              ns: str | None = None, out=sys.stdout) -> Summary:
    """Run producer and workers on this host until every job is done or dead; return the summary.

    With ``chaos``, one worker is SIGKILLed while it holds a job (and replaced): its job
    is redelivered after the lease.  Ctrl-C stops the workers cleanly.
    """
    own_ns = ns is None
    ns = ns or f"pool-{os.getpid()}-{int(time.time())}"
    client = hotsync.HotClient.from_url(url, metrics=False)
    pool = Pool(client, ns, rate)
    stop_exporter = threading.Event()
    if exporter_port:
        from hotsync.exporter import serve

        threading.Thread(target=serve, args=(client, exporter_port, "127.0.0.1", None, stop_exporter),
                         daemon=True).start()

    def spawn(i: int) -> multiprocessing.Process:
        p = SPAWN.Process(target=worker_main, args=(i, url, ns, rate, work, metrics_port), daemon=True)
        p.start()
        return p

    def terminated(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM: stop like Ctrl-C, so the workers are stopped too

    signal.signal(signal.SIGTERM, terminated)
    procs = {i: spawn(i) for i in range(workers)}
    produce(pool, jobs)
    print(f"{workers} worker processes, {jobs} jobs (every 50th is poison), fleet rate limit {rate:.0f}/s, "
          f"upstream semaphore {UPSTREAM_SLOTS}, lease {LEASE:g}s", file=out, flush=True)
    start = time.monotonic()
    killed: list[int] = []
    tty = getattr(out, "isatty", lambda: False)()
    last_line = 0.0
    try:
        while True:
            st = pool.jobs.statistics() if hasattr(pool.jobs, "statistics") else None
            done, dead = len(pool.done), pool.jobs.dead_count()
            if chaos and not killed and done >= jobs * 0.4:
                victim = next(iter(procs))
                os.kill(procs[victim].pid, signal.SIGKILL)  # a crash while holding a job
                procs[victim].join(5)
                killed.append(victim)
                print(f"\n  SIGKILLed worker {victim} (pid {procs[victim].pid}) mid-run; starting a replacement",
                      file=out, flush=True)
                procs[victim] = spawn(victim)
            now = time.monotonic()
            if tty or now - last_line >= 2.0:
                depth = f"  ready {st.depth}  in flight {st.in_flight}" if st is not None else ""
                bar = "#" * int(30 * (done + dead) / jobs)
                print(f"{chr(13) if tty else ''}  [{bar:<30}] done {done}/{jobs}  dead {dead}{depth}  "
                      f"{done / max(now - start, 1e-9):,.0f} jobs/s", end="" if tty else "\n", file=out, flush=True)
                last_line = now
            if done + dead >= jobs:
                break
            if not any(p.is_alive() for p in procs.values()):
                raise RuntimeError("every worker exited")
            time.sleep(0.25)  # refresh of the progress display
    except KeyboardInterrupt:
        print("\n  interrupted: stopping the workers", file=out, flush=True)
    finally:
        seconds = time.monotonic() - start
        for p in procs.values():
            if p.is_alive():
                p.terminate()  # SIGTERM: the worker finishes its job, then exits
        for p in procs.values():
            p.join(10)
        stop_exporter.set()
    print("", file=out)
    summary = summarize(pool, jobs, seconds, killed)
    if own_ns:
        cleanup(url, ns)
    return summary


def cleanup(url: str, ns: str) -> None:
    """Delete every key of a pool and its index entries (an example's housekeeping)."""
    r = hotsync.HotClient.from_url(url, metrics=False).redis
    keys = [*r.scan_iter(match=f"{ns}:*"), *r.scan_iter(match=f"{{{ns}:*")]
    if keys:
        r.delete(*keys)
    names = [k for k in r.hkeys("hotsync:index") if k.startswith(ns.encode())]
    if names:
        r.hdel("hotsync:index", *names)


# -- command line ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    parser.add_argument("--namespace", default="pool", help="key namespace shared by the whole pool")
    parser.add_argument("--rate", type=float, default=150.0, help="fleet-wide upstream calls per second")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("produce", help="enqueue jobs")
    p.add_argument("--jobs", type=int, default=1000)
    w = sub.add_parser("worker", help="run worker processes on this host until Ctrl-C")
    w.add_argument("--processes", type=int, default=4)
    w.add_argument("--metrics-port", type=int, default=9710, help="first metrics port (one per process)")
    w.add_argument("--work", type=float, default=0.005, help="seconds per upstream call")
    loc = sub.add_parser("local", help="producer and workers on this host; prints a summary")
    loc.add_argument("--jobs", type=int, default=400)
    loc.add_argument("--workers", type=int, default=4)
    loc.add_argument("--no-chaos", action="store_true", help="do not SIGKILL a worker mid-run")
    loc.add_argument("--metrics-port", type=int, help="serve worker metrics from this port up (one per worker)")
    loc.add_argument("--exporter-port", type=int, help="also serve the live-state exporter on this port")
    args = parser.parse_args(argv)
    if args.command == "produce":
        pool = Pool(hotsync.HotClient.from_url(args.redis), args.namespace, args.rate)
        produce(pool, args.jobs)
        print(f"enqueued {args.jobs} jobs on {args.namespace}:jobs")
        return 0
    if args.command == "worker":
        procs = [SPAWN.Process(target=worker_main, args=(i, args.redis, args.namespace, args.rate, args.work,
                                                         args.metrics_port)) for i in range(args.processes)]
        for proc in procs:
            proc.start()
        print(f"{args.processes} workers; metrics on ports {args.metrics_port}-{args.metrics_port + args.processes - 1}")
        try:
            for proc in procs:
                proc.join()
        except KeyboardInterrupt:
            for proc in procs:
                proc.join(15)
        return 0
    summary = run_local(args.redis, jobs=args.jobs, workers=args.workers, rate=args.rate, chaos=not args.no_chaos,
                        metrics_port=args.metrics_port, exporter_port=args.exporter_port)
    print(summary.render())
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
