"""Sequence collections benchmark: List, Set and String vs the raw redis-py command, same run, same server.

    python bench/bench_collections_seq.py [--reps 3] [--quick] [--redis URL]

One process, one operation at a time.  For each common operation the
reference is the redis-py call a user would write by hand for the same work,
including the JSON encoding/decoding of typed values (``rpush(k, json.dumps(v))``,
``json.loads(lindex(k, i))``).  Reported: ops/s (median of the interleaved
batches), the ratio hotsync/raw (target >= 0.95), client round trips per
op (target 1) and server commands per op (from ``INFO commandstats``; a Lua
script counts its inner commands too).  Both systems run in alternating
batches of 100 calls (finer than ``_common.interleave``'s whole runs, because a
shared machine drifts within seconds); the ratio is the median of the paired
batch ratios.  ``--reps`` multiplies the number of batches.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

import hotsync  # noqa: E402

PRELOAD = 1000  # elements in the List/Set read by the lookup benchmarks


def _ops(system: str, url: str) -> dict[str, Callable[[int], object]]:
    """Operation name -> a function of the iteration number, for one system."""
    ns = f"bench:seq:{system}:{uuid.uuid4().hex[:6]}:"
    if system == "hotsync":
        client = hotsync.HotClient.from_url(url, metrics=False)
        lst = hotsync.List(key=f"{ns}l", client=client)
        grow = hotsync.List(key=f"{ns}g", client=client)
        s = hotsync.Set(key=f"{ns}s", client=client)
        t = hotsync.String(key=f"{ns}t", client=client)
        lst.extend(range(PRELOAD))
        s.update(range(PRELOAD))

        def string_append(i: int) -> None:
            nonlocal t
            t += "x"

        return {
            "List.append": grow.append,
            "List[i]": lambda i: lst[i % PRELOAD],
            "len(List)": lambda i: len(lst),
            "x in List": lambda i: i % PRELOAD in lst,
            "List.pop()": lambda i: grow.pop(),
            "Set.add": s.add,
            "x in Set": lambda i: i % (2 * PRELOAD) in s,
            "String +=": string_append,
        }
    r = c.raw_client(url)
    dumps, loads = json.dumps, json.loads
    r.rpush(f"{ns}l", *(dumps(i) for i in range(PRELOAD)))
    r.sadd(f"{ns}s", *(dumps(i) for i in range(PRELOAD)))
    lk, gk, sk, tk = f"{ns}l", f"{ns}g", f"{ns}s", f"{ns}t"
    return {
        "List.append": lambda i: r.rpush(gk, dumps(i)),
        "List[i]": lambda i: loads(r.lindex(lk, i % PRELOAD)),
        "len(List)": lambda i: r.llen(lk),
        "x in List": lambda i: r.lpos(lk, dumps(i % PRELOAD)) is not None,
        "List.pop()": lambda i: loads(r.rpop(gk)),
        "Set.add": lambda i: r.sadd(sk, dumps(i)),
        "x in Set": lambda i: bool(r.sismember(sk, dumps(i % (2 * PRELOAD)))),
        "String +=": lambda i: r.append(tk, "x"),
    }


def _calls(system: str, op, url: str) -> tuple[float, float]:
    """Round trips and server commands per call of ``op`` (after a warm-up)."""
    r = c.raw_client(url)
    for i in range(50):  # warm up: connections, script cache
        op(i)
    with c.RoundTrips() as rt:
        for i in range(50, 250):
            op(i)
    c.reset_stats(r)
    for i in range(250, 450):
        op(i)
    stats = c.server_commands(r)
    r.close()
    return rt.count / 200, sum(v for k, v in stats.items() if not k.startswith("config")) / 200


def run(url: str, n: int, reps: int) -> dict[str, dict[str, float]]:
    """Every operation, raw and hotsync alternating in batches of 100 (paired, so drift cancels)."""
    ops = {system: _ops(system, url) for system in ("raw", "hotsync")}
    results: dict[str, dict[str, float]] = {}
    for name in ops["raw"]:
        rtt = {s: _calls(s, ops[s][name], url) for s in ops}
        rates: dict[str, list[float]] = {"raw": [], "hotsync": []}
        i = 450
        for _ in range(reps * n // 100):
            for system in ("raw", "hotsync"):
                op = ops[system][name]
                start = time.perf_counter()
                for j in range(i, i + 100):
                    op(j)
                rates[system].append(100 / (time.perf_counter() - start))
            i += 100
        ratios = [h / r for h, r in zip(rates["hotsync"], rates["raw"])]
        results[name] = {
            "raw": c.summarize(rates["raw"])[0],
            "hotsync": c.summarize(rates["hotsync"])[0],
            "ratio": c.summarize(ratios)[0],
            "ratio_p25": c.percentile(ratios, 25),
            "ratio_p75": c.percentile(ratios, 75),
            "rtt": rtt["hotsync"][0],
            "raw_rtt": rtt["raw"][0],
            "cmds": rtt["hotsync"][1],
        }
        print(f"  {name}: x{results[name]['ratio']:.2f}", flush=True)
    return results


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    n = 2000 if args.quick else 20000
    with c.server(args.redis) as url:
        print(c.header("Sequence collections benchmark (List, Set, String)", url))
        res = run(url, n, args.reps)
    rows = [
        [op, x["raw"], x["hotsync"], x["ratio"], f"{x['ratio_p25']:.2f}-{x['ratio_p75']:.2f}", x["rtt"], x["raw_rtt"], x["cmds"]]
        for op, x in res.items()
    ]
    print(f"\n### One process; {args.reps * n} ops per system and operation, in alternating batches of 100\n")
    print(c.table(["operation", "raw redis-py ops/s", "hotsync ops/s", "x raw (median of paired batches)",
                   "x raw p25-p75", "round trips/op", "raw round trips/op", "server cmds/op"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
