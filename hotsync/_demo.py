"""``hotsync demo``: worker processes contend for one Lock around a non-atomic counter.

Each worker repeatedly takes ``Lock("demo:lock")``, reads the shared counter,
writes it back plus one (a lost update if two ran at once), and checks that the
fencing token it was given is larger than any token used before it.  The main
process shows progress and ends with a summary: critical sections, lost
updates (must be 0), fencing tokens monotonic, acquire-wait percentiles, and
how evenly the workers shared the lock.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from dataclasses import dataclass

import hotsync
from hotsync._embedded import RedisServer

__all__ = ["run_demo"]

_SPAWN = multiprocessing.get_context("spawn")


def _worker(url: str, ns: str, index: int, rounds: int) -> None:
    """One worker process: ``rounds`` critical sections; its waits go to Redis at the end."""
    client = hotsync.HotClient.from_url(url, metrics=False)
    r = client.redis
    lock = hotsync.Lock(f"{ns}lock", client, lease=10)
    waits: list[float] = []
    r.incr(f"{ns}ready")
    while r.get(f"{ns}go") is None:  # start line; the demo's own choreography
        time.sleep(0.001)
    violations = 0
    for _ in range(rounds):
        start = time.perf_counter()
        lock.acquire()
        waits.append(time.perf_counter() - start)
        try:
            value = int(r.get(f"{ns}counter") or 0)  # deliberately non-atomic:
            last = int(r.get(f"{ns}last-token") or 0)
            if lock.token is None or lock.token <= last:
                violations += 1
            r.set(f"{ns}last-token", lock.token or 0)
            r.set(f"{ns}counter", value + 1)  # without the lock, updates would be lost
        finally:
            lock.release()
        r.hincrby(f"{ns}per-worker", str(index), 1)
    pipe = r.pipeline(transaction=False)
    for i in range(0, len(waits), 1000):
        pipe.rpush(f"{ns}waits", *(f"{w:.6f}" for w in waits[i : i + 1000]))
    pipe.incrby(f"{ns}violations", violations)
    pipe.execute()
    client.close()


@dataclass
class Summary:
    workers: int
    expected: int
    critical_sections: int
    counter: int
    lost_updates: int
    token_violations: int
    wait_p50_ms: float
    wait_p99_ms: float
    seconds: float
    per_worker: dict[int, int]

    @property
    def ok(self) -> bool:
        return self.lost_updates == 0 and self.token_violations == 0 and self.critical_sections == self.expected

    def render(self) -> str:
        counts = sorted(self.per_worker.values()) or [0]
        fairness = counts[-1] / counts[0] if counts[0] else float("inf")
        rows = [
            ("workers (OS processes)", f"{self.workers}"),
            ("critical sections", f"{self.critical_sections:,} of {self.expected:,}"),
            ("shared counter", f"{self.counter:,}"),
            ("lost updates", f"{self.lost_updates}"),
            ("fencing tokens monotonic", "yes" if self.token_violations == 0 else f"NO ({self.token_violations})"),
            ("acquire wait p50 / p99", f"{self.wait_p50_ms:.2f} ms / {self.wait_p99_ms:.2f} ms"),
            ("throughput", f"{self.critical_sections / self.seconds:,.0f} critical sections/s"),
            ("per-worker max/min", f"{fairness:.2f}  {counts}"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"  {k:<{width}}  {v}" for k, v in rows]
        lines.append(f"  {'result':<{width}}  {'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)]


def run_demo(url: str | None = None, workers: int = 5, rounds: int = 200, out=sys.stdout) -> Summary:
    """Run the demo against ``url`` (or an embedded Redis) and return its summary."""
    server = None
    if url is None:
        url = os.environ.get("HOTSYNC_REDIS_URL") or os.environ.get("REDIS_URL")
    if url is None:
        server = RedisServer().start()
        url = server.url
        print(f"started an embedded Redis ({server.binary}) on {url}", file=out)
    else:
        print(f"using Redis at {url}", file=out)
    ns = f"hotsync-demo:{uuid.uuid4().hex[:8]}:"
    client = hotsync.HotClient.from_url(url, metrics=False)
    r = client.redis
    procs = [_SPAWN.Process(target=_worker, args=(url, ns, i, rounds), daemon=True) for i in range(workers)]
    expected = workers * rounds
    try:
        for p in procs:
            p.start()
        print(f"{workers} worker processes x {rounds} critical sections around a non-atomic counter", file=out)
        while int(r.get(f"{ns}ready") or 0) < workers:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a worker failed to start")
            time.sleep(0.05)
        r.set(f"{ns}go", 1)
        start = time.monotonic()
        while any(p.is_alive() for p in procs):
            done = int(r.get(f"{ns}counter") or 0)
            _progress(done, expected, time.monotonic() - start, out)
            time.sleep(0.2)
        seconds = time.monotonic() - start
        _progress(int(r.get(f"{ns}counter") or 0), expected, seconds, out)
        print(file=out)
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError(f"workers exited with {[p.exitcode for p in procs]}")
        waits = [float(w) for w in r.lrange(f"{ns}waits", 0, -1)]
        per_worker = {int(k): int(v) for k, v in r.hgetall(f"{ns}per-worker").items()}
        counter = int(r.get(f"{ns}counter") or 0)
        sections = sum(per_worker.values())
        summary = Summary(
            workers=workers,
            expected=expected,
            critical_sections=sections,
            counter=counter,
            lost_updates=sections - counter,
            token_violations=int(r.get(f"{ns}violations") or 0),
            wait_p50_ms=_percentile(waits, 0.50) * 1000,
            wait_p99_ms=_percentile(waits, 0.99) * 1000,
            seconds=seconds,
            per_worker=per_worker,
        )
        print(summary.render(), file=out)
        return summary
    except KeyboardInterrupt:
        print("\ninterrupted: stopping workers", file=out)
        raise
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
        try:
            keys = list(r.scan_iter(match=f"{ns}*")) + list(r.scan_iter(match=f"{{{ns}*"))
            if keys:
                r.delete(*keys)
        except Exception:  # noqa: BLE001 - best-effort cleanup (server may be gone)
            pass
        client.close()
        if server is not None:
            server.stop()


def _progress(done: int, total: int, elapsed: float, out) -> None:
    if not getattr(out, "isatty", lambda: False)() and done < total:
        return  # not a terminal: only the final line
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "." * (width - filled)
    rate = done / elapsed if elapsed > 0 else 0.0
    print(f"\r  [{bar}] {done:,}/{total:,}  {rate:,.0f}/s", end="", file=out, flush=True)
