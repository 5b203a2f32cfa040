"""Dict / Counter / Int: common operations vs the raw redis-py command, ops per second.

One client, one connection, operations back to back (latency-bound: each is
one round trip).  Pairs, interleaved per rep on the same server:

* ``dict_set``:  ``d[k] = v`` (``HSET``; key and value JSON-encoded)  vs ``r.hset(key, k, v)``;
* ``dict_get``:  ``d[k]`` (``HGET`` + decode)                         vs ``r.hget(key, k)``;
* ``counter_update``: ``c.update([k])`` (``HINCRBY``)                 vs ``r.hincrby(key, k, 1)``;
* ``int_iadd``:  ``x += 1`` (``INCRBY``)                              vs ``r.incrby(key, 1)``.

The raw side gets its arguments ready-made (no encoding); hotsync encodes with
its JSON codec, goes through its retry policy and transaction check.  Round
trips are counted client-side, server commands from ``INFO commandstats``.
Target: hotsync >= 0.95x the raw command, 1 round trip per operation.

Run: ``python bench/bench_collections_map.py [--quick] [--reps N] [--redis URL]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _common import RoundTrips, header, interleave, parser, raw_client, reset_stats, server, server_commands, summarize, table

import hotsync

FIELDS = 64


def _measure(url: str, ops: int, setup: Callable[[], Callable[[int], Any]], check: Callable[[], bool]) -> dict[str, Any]:
    op = setup()
    for i in range(50):  # warm up: connection, script cache, code paths
        op(i)
    r = raw_client(url)
    reset_stats(r)
    with RoundTrips() as rt:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for i in range(ops):
            op(i)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    cmds = server_commands(r)
    workload = sum(v for k, v in cmds.items() if k not in ("info", "config|resetstat", "config"))
    r.close()
    return {
        "ops_s": ops / wall,
        "rtt_op": rt.count / ops,
        "cmds_op": workload / ops,
        "cpu_us": cpu / ops * 1e6,
        "correct": check(),
    }


def workloads(url: str, ops: int) -> dict[str, Callable[[], dict[str, Any]]]:
    hc = hotsync.HotClient.from_url(url, metrics=False, key_prefix="bench:")
    raw = raw_client(url)
    names = [f"f{i}" for i in range(FIELDS)]
    raw_fields = [f'"{n}"'.encode() for n in names]  # the same bytes hotsync stores

    def fresh(key: str) -> str:
        raw.delete(f"bench:{key}", key)
        return key

    def hot_dict_set() -> Callable[[int], Any]:
        d = hotsync.Dict(key=fresh("hs"), client=hc)

        def op(i: int) -> None:
            d[names[i % FIELDS]] = i

        return op

    def raw_dict_set() -> Callable[[int], Any]:
        key = fresh("rs")
        return lambda i: raw.hset(key, raw_fields[i % FIELDS], i)

    def hot_dict_get() -> Callable[[int], Any]:
        d = hotsync.Dict({n: i for i, n in enumerate(names)}, key=fresh("hg"), client=hc)
        return lambda i: d[names[i % FIELDS]]

    def raw_dict_get() -> Callable[[int], Any]:
        key = fresh("rg")
        raw.hset(key, mapping={f: i for i, f in enumerate(raw_fields)})
        return lambda i: raw.hget(key, raw_fields[i % FIELDS])

    def hot_counter() -> Callable[[int], Any]:
        c = hotsync.Counter(key=fresh("hc"), client=hc)
        return lambda i: c.update([names[i % FIELDS]])

    def raw_counter() -> Callable[[int], Any]:
        key = fresh("rc")
        return lambda i: raw.hincrby(key, raw_fields[i % FIELDS], 1)

    def hot_int() -> Callable[[int], Any]:
        x = hotsync.Int(key=fresh("hi"), client=hc)

        def op(i: int) -> None:
            nonlocal x
            x += 1

        return op

    def raw_int() -> Callable[[int], Any]:
        key = fresh("ri")
        return lambda i: raw.incrby(key, 1)

    total = ops + 50

    def counted(key: str, prefixed: bool) -> Callable[[], bool]:
        def check() -> bool:
            vals = raw.hvals(f"bench:{key}" if prefixed else key)
            return sum(int(v) for v in vals) == total

        return check

    def int_done(key: str) -> Callable[[], bool]:
        return lambda: int(raw.get(key) or 0) == total

    return {
        "dict_set/hotsync": lambda: _measure(url, ops, hot_dict_set, lambda: raw.hlen("bench:hs") == FIELDS),
        "dict_set/raw": lambda: _measure(url, ops, raw_dict_set, lambda: raw.hlen("rs") == FIELDS),
        "dict_get/hotsync": lambda: _measure(url, ops, hot_dict_get, lambda: True),
        "dict_get/raw": lambda: _measure(url, ops, raw_dict_get, lambda: True),
        "counter_update/hotsync": lambda: _measure(url, ops, hot_counter, counted("hc", True)),
        "counter_update/raw": lambda: _measure(url, ops, raw_counter, counted("rc", False)),
        "int_iadd/hotsync": lambda: _measure(url, ops, hot_int, int_done("bench:hi")),
        "int_iadd/raw": lambda: _measure(url, ops, raw_int, int_done("ri")),
    }


HOW = {
    "dict_set": ("`d[k] = v`", "`HSET`"),
    "dict_get": ("`d[k]`", "`HGET`"),
    "counter_update": ("`c.update([k])`", "`HINCRBY k 1`"),
    "int_iadd": ("`x += 1`", "`INCRBY 1`"),
}


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    ops = 2000 if args.quick else 20000
    with server(args.redis) as url:
        results = interleave(workloads(url, ops), args.reps)
        print()
        print(header(f"Dict / Counter / Int vs raw redis-py ({ops} sequential ops per run, 1 connection)", url))
        rows = []
        for name, (hot_how, raw_how) in HOW.items():
            hot, ref = results[f"{name}/hotsync"], results[f"{name}/raw"]
            h_med, h_lo, h_hi = summarize([x["ops_s"] for x in hot])
            r_med, r_lo, r_hi = summarize([x["ops_s"] for x in ref])
            rows.append([
                f"`{name}`", hot_how, h_med, f"{h_lo:,.0f}–{h_hi:,.0f}", raw_how, r_med, f"{r_lo:,.0f}–{r_hi:,.0f}",
                h_med / r_med,
                summarize([x["rtt_op"] for x in hot])[0], summarize([x["rtt_op"] for x in ref])[0],
                summarize([x["cmds_op"] for x in hot])[0], summarize([x["cmds_op"] for x in ref])[0],
                summarize([x["cpu_us"] for x in hot])[0], summarize([x["cpu_us"] for x in ref])[0],
                "yes" if all(x["correct"] for x in hot + ref) else "NO",
            ])
        print(table(
            ["workload", "hotsync", "ops/s (median)", "range", "raw redis-py", "ops/s (median)", "range", "× raw",
             "RTT/op hotsync", "RTT/op raw", "server cmds/op hotsync", "server cmds/op raw",
             "client CPU µs/op hotsync", "client CPU µs/op raw", "correct"],
            rows,
        ))
        print(f"\nTarget: × raw >= 0.95 and 1 RTT/op. reps={args.reps} (interleaved), medians shown.")


if __name__ == "__main__":
    main()
