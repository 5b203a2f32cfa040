"""Queue throughput: hotsync against raw redis-py, same run, same server.

Rows (items/s, round trips per item counted client-side in every process):

* ``raw_list``      LPUSH / BRPOP (2 round trips per item)          1->1, 1->4
* ``raw_bytes``     the same, without the codec (one pre-encoded payload pushed,
                    replies not decoded): the wire's floor, for reference 1->1, 1->4
* ``queue``         hotsync.Queue put / get                          1->1, 1->4
* ``raw_reliable``  LPUSH / BLMOVE + LREM ack (3 round trips)        1->1, 1->4
* ``reliable``      hotsync.Queue put / reserve + ack                1->1, 1->4
* ``consume``       hotsync.Queue put / ``for msg in q.consume()`` (ack rides with the
                    next reserve: one round trip per message)       1->1, 1->4
* ``batch``         put_many / get_many in batches of 1000, one client

With ``--diagnose``, one more row per shape, ``queue_native_put``: hotsync
consumers (``get()``) fed by a producer that sends a bare ``LPUSH`` of an
envelope through the same HotClient, skipping the put script (and so the
shutdown check, unfinished count, stamp and retry guard it keeps).  It shows
what of the gap to ``raw_list`` is the put script's server time.

The same work on both sides: a job (a dict) goes from producer to consumer, so
the raw references encode each job with the same JSON codec and decode what they
pop, as hotsync does (``raw_bytes`` shows what skipping that is worth).

Targets (issue 4): queue >= 0.95x raw_list; reliable consumption (reserve + ack)
>= 1.5x raw_reliable, which ``consume`` meets with 2 round trips per item, put
included, against raw's 3 (``reliable`` sends each ack alone: 3, as raw does);
batch >= 100k items/s.  "vs raw" is the median of the per-rep ratios (see
``_common.paired``).  "CPU µs/item" is the CPU time of every client process
plus redis-server's, per item (median): what the work costs the machine, apart
from how the scheduler happened to interleave up to six processes on this
2-core box, which swings throughput by tens of percent between reps.

With ``--place P:C`` (repeatable, Linux), redis-server is pinned to CPU 0, the
producer to CPU P and the consumers to CPU C (``*``: left to the kernel).  On a
2-CPU machine the kernel's placement of the six processes of a 1->4 run decides
its throughput (the producer on the server's CPU or not: 2x here, for raw and
hotsync alike) and, unpinned, swings a rep's ratio more than hotsync's own cost
does; ``taskset -c 0`` measures that cost alone.

"vs raw, middle half of reps" is the interquartile range of those per-rep ratios:
on this machine one rep's ratio lands anywhere from 0.65x to 1.7x, so a target
read off a few reps is a coin toss; ``--only`` spends many reps on one ratio.

    python bench/bench_queue.py --quick          # smoke run (small sizes)
    python bench/bench_queue.py --reps 7         # the numbers for the README
    python bench/bench_queue.py --reps 25 --only queue --consumers 4   # one ratio, tight
    python bench/bench_queue.py --reps 6 --only queue --place 0:1 --place 1:*   # by placement
    taskset -c 0 python bench/bench_queue.py --reps 6 --only queue   # one CPU: cost alone
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

import hotsync  # noqa: E402

PAYLOAD = {"job": 12345, "kind": "resize", "args": ["a.png", 640]}


def _client(url: str) -> hotsync.HotClient:
    return hotsync.HotClient.from_url(url, metrics=False, socket_timeout=None)


CODEC = hotsync.codecs.get_codec("json")


def _producer(i: int, url: str, system: str, key: str, n: int, out: Any, cpu: int | None = None) -> None:
    common.pin(cpu)
    with common.RoundTrips() as rt:
        if system.startswith("raw"):
            r = common.raw_client(url)
            dumps = CODEC.dumps
            data = dumps(PAYLOAD)
            common.barrier_wait(r, key, out[1])
            cpu = time.process_time()
            if system == "raw_bytes":
                for _ in range(n):
                    r.lpush(key, data)
            else:
                for _ in range(n):
                    r.lpush(key, dumps(PAYLOAD))
        else:
            c = _client(url)
            q = hotsync.Queue(key=key, client=c)
            common.barrier_wait(c.redis, key, out[1])
            cpu = time.process_time()
            if system == "queue_native_put":  # diagnostic: an envelope as queue_put_plain writes one
                for i in range(n):
                    c.execute("LPUSH", q._main, b"0|d%d|0|%s" % (i, CODEC.dumps(PAYLOAD)), key=q._main)
            else:
                for _ in range(n):
                    q.put(PAYLOAD)
        cpu = time.process_time() - cpu
    out[0].put(("p", rt.count, 0.0, cpu))


def _consumer(i: int, url: str, system: str, key: str, n: int, out: Any, cpu: int | None = None) -> None:
    common.pin(cpu)
    with common.RoundTrips() as rt:
        if system.startswith("raw"):
            r = common.raw_client(url)
            loads = CODEC.loads
            common.barrier_wait(r, key, out[1])
            start, cpu = time.perf_counter(), time.process_time()
            processing = f"{key}:processing:{i}"
            for _ in range(n):
                if system == "raw_bytes":
                    r.brpop(key, 0)
                elif system == "raw_list":
                    loads(r.brpop(key, 0)[1])
                else:
                    item = r.blmove(key, processing, 0, "RIGHT", "LEFT")
                    loads(item)
                    r.lrem(processing, 1, item)
        else:
            c = _client(url)
            q = hotsync.Queue(key=key, client=c)
            common.barrier_wait(c.redis, key, out[1])
            start, cpu = time.perf_counter(), time.process_time()
            if system == "consume":
                done = 0
                for msg in q.consume():
                    done += 1
                    if done == n:
                        msg.ack()
                        break
            for _ in range(n if system != "consume" else 0):
                if system in ("queue", "queue_native_put"):
                    q.get()
                else:
                    q.reserve().ack()
        cpu = time.process_time() - cpu
    out[0].put(("c", rt.count, time.perf_counter() - start, cpu))


def _pipe(url: str, system: str, n: int, consumers: int, place: tuple[int | None, int | None] = (None, None)
          ) -> dict[str, Any]:
    key = f"bq:{uuid.uuid4().hex[:8]}"
    results = common.SPAWN.Queue()
    r = common.raw_client(url)
    common.reset_stats(r)
    server_cpu = common.server_cpu(r)
    per = n // consumers
    procs = [common.SPAWN.Process(target=_producer, args=(0, url, system, key, per * consumers,
                                                          (results, consumers + 1), place[0]))]
    procs += [common.SPAWN.Process(target=_consumer, args=(i, url, system, key, per, (results, consumers + 1), place[1]))
              for i in range(consumers)]
    for p in procs:
        p.start()
    got = [results.get(timeout=600) for _ in procs]
    server_cpu = common.server_cpu(r) - server_cpu
    for p in procs:
        p.join(60)
    elapsed = max(g[2] for g in got if g[0] == "c")
    trips = sum(g[1] for g in got)
    cmds = sum(v for k, v in common.server_commands(r).items() if k not in ("incr", "get", "config|resetstat",
                                                                          "config", "info"))
    r.close()
    total = per * consumers
    cpu = sum(g[3] for g in got) + server_cpu
    return {"items_per_s": total / elapsed, "rtt_per_item": trips / total, "cmds_per_item": cmds / total,
            "cpu_us_per_item": cpu / total * 1e6}


def _batch(url: str, n: int) -> dict[str, Any]:
    c = _client(url)
    q = hotsync.Queue(key=f"bb:{uuid.uuid4().hex[:8]}", client=c)
    items = [dict(PAYLOAD, i=i) for i in range(n)]
    with common.RoundTrips() as rt:
        start = time.perf_counter()
        for i in range(0, n, 1000):
            q.put_many(items[i:i + 1000])
        got = 0
        while got < n:
            got += len(q.get_many(1000))
        elapsed = time.perf_counter() - start
    c.close()
    return {"items_per_s": n / elapsed, "rtt_per_item": rt.count / n, "cmds_per_item": float("nan"),
            "cpu_us_per_item": float("nan")}


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--diagnose", action="store_true", help="add the queue_native_put rows (see the docstring)")
    p.add_argument("--consumers", default="1,4", help="the shapes: consumer counts, comma-separated (default 1,4)")
    p.add_argument("--only", default="", help="run only these systems (comma-separated, e.g. queue), their "
                                             "raw references and no batch row: to spend many reps on one ratio")
    p.add_argument("--place", action="append", default=[], metavar="P:C",
                   help="diagnostic, repeatable: redis-server pinned to CPU 0 (it must run on this machine), the "
                        "producer to CPU P, the consumers to CPU C ('*': unpinned); rows are labelled [P:C]")
    args = p.parse_args()
    try:
        places = [tuple(None if x == "*" else int(x) for x in spec.split(":")) for spec in args.place]
    except ValueError:
        p.error("--place takes P:C, CPU numbers or '*', e.g. 0:1")
    if any(len(pl) != 2 for pl in places):
        p.error("--place takes P:C, CPU numbers or '*', e.g. 0:1")
    try:
        shapes = [int(c) for c in args.consumers.split(",")]
    except ValueError:
        shapes = []
    if not shapes or min(shapes) < 1:
        p.error("--consumers takes positive counts, e.g. 1,4")
    refs = {"queue": "raw_list", "raw_bytes": "raw_list", "queue_native_put": "raw_list",
            "reliable": "raw_reliable", "consume": "raw_reliable"}
    only = {s for s in args.only.split(",") if s}
    if only - set(refs) - set(refs.values()):
        p.error(f"--only: unknown system(s) {sorted(only - set(refs) - set(refs.values()))}")
    only |= {refs.get(s, s) for s in only}
    n = 2000 if args.quick else 20000
    reps = 1 if args.quick else args.reps
    with common.server(args.redis) as url, common.pinned_server(url, 0 if places else None):
        print(common.header("Queue throughput", url))
        systems = {}
        for consumers in shapes:
            diagnose = ("queue_native_put",) if args.diagnose or "queue_native_put" in only else ()
            for system in ("raw_list", "raw_bytes", "queue", *diagnose, "raw_reliable", "reliable", "consume"):
                if only and system not in only:
                    continue
                for place in places or [(None, None)]:
                    label = "" if not places else " [%s:%s]" % tuple("*" if x is None else x for x in place)
                    systems[f"{system} 1->{consumers}{label}"] = (
                        lambda s=system, c=consumers, pl=place: _pipe(url, s, n, c, pl))
        if not only and not places:
            systems["batch put_many/get_many"] = lambda: _batch(url, n * 5)
        results = common.interleave(systems, reps)
        rows = []
        for name, runs in results.items():
            med, lo, hi = common.summarize([r["items_per_s"] for r in runs])
            ref = None
            if name.startswith(("queue", "raw_bytes")):
                ref = results.get("raw_list " + name.split(" ", 1)[1])
            elif name.startswith(("reliable", "consume")):
                ref = results.get(name.replace("reliable", "raw_reliable").replace("consume", "raw_reliable"))
            cpu = common.summarize([r["cpu_us_per_item"] for r in runs])[0]
            if ref is None:
                vs = spread = ""
            else:
                ratios = common.ratios(runs, ref, "items_per_s")
                vs = f"{common.paired(runs, ref, 'items_per_s'):.2f}x"
                spread = f"{common.percentile(ratios, 25):.2f}-{common.percentile(ratios, 75):.2f}"
            rows.append([name, med, f"{lo:,.0f}-{hi:,.0f}", runs[-1]["rtt_per_item"], runs[-1]["cmds_per_item"],
                         cpu, vs, spread])
        print()
        print(common.table(["system", "items/s (median)", "range", "round trips/item", "server cmds/item",
                            "CPU µs/item", "vs raw", "vs raw, middle half of reps"], rows))


if __name__ == "__main__":
    main()
