"""Dict / Counter / Int: common operations vs the raw redis-py command, ops per second.

One client, one connection, operations back to back (latency-bound: each is
one round trip).  The two sides of each pair run in alternating turns of 100
operations inside one run (so load from other processes hits both alike), and
runs are repeated ``--reps`` times:

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


CHUNK = 100  # ops per turn: the two sides alternate in turns, so machine drift hits both alike


def _commands_per_op(url: str, op: Callable[[int], Any], n: int = 200) -> float:
    r = raw_client(url)
    reset_stats(r)
    for i in range(n):
        op(i)
    cmds = server_commands(r)
    r.close()
    return sum(v for k, v in cmds.items() if k not in ("info", "config|resetstat", "config")) / n


def _measure_pair(
    url: str,
    ops: int,
    hot_setup: Callable[[], Callable[[int], Any]],
    raw_setup: Callable[[], Callable[[int], Any]],
    check: Callable[[], bool],
) -> dict[str, Any]:
    """Run both sides in alternating turns of CHUNK ops; per-side wall, CPU and round trips."""
    sides = {"hotsync": hot_setup(), "raw": raw_setup()}
    for op in sides.values():  # warm up: connection, script cache, code paths
        for i in range(50):
            op(i)
    wall = dict.fromkeys(sides, 0.0)
    cpu = dict.fromkeys(sides, 0.0)
    trips = dict.fromkeys(sides, 0)
    for turn in range(ops // CHUNK):
        order = list(sides) if turn % 2 == 0 else list(reversed(sides))
        for name in order:
            op = sides[name]
            base = turn * CHUNK
            with RoundTrips() as rt:
                c0, t0 = time.process_time(), time.perf_counter()
                for i in range(base, base + CHUNK):
                    op(i)
                wall[name] += time.perf_counter() - t0
                cpu[name] += time.process_time() - c0
            trips[name] += rt.count
    done = ops // CHUNK * CHUNK
    result: dict[str, Any] = {"correct": check()}
    for name, op in sides.items():
        result[f"{name}_ops_s"] = done / wall[name]
        result[f"{name}_rtt_op"] = trips[name] / done
        result[f"{name}_cpu_us"] = cpu[name] / done * 1e6
        result[f"{name}_cmds_op"] = _commands_per_op(url, op)
    result["ratio"] = result["hotsync_ops_s"] / result["raw_ops_s"]
    return result


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

    def counted(hot_key: str, raw_key: str) -> Callable[[], bool]:
        def check() -> bool:
            def total(key: str) -> int:
                return sum(int(v) for v in raw.hvals(key))

            return total(hot_key) == total(raw_key) == ops // CHUNK * CHUNK + 50

        return check

    def ints_done() -> bool:
        return int(raw.get("bench:hi") or 0) == int(raw.get("ri") or 0) == ops // CHUNK * CHUNK + 50

    def same_fields() -> bool:
        return raw.hgetall("bench:hs") == raw.hgetall("rs") and raw.hlen("rs") == FIELDS

    return {
        "dict_set": lambda: _measure_pair(url, ops, hot_dict_set, raw_dict_set, same_fields),
        "dict_get": lambda: _measure_pair(url, ops, hot_dict_get, raw_dict_get, lambda: True),
        "counter_update": lambda: _measure_pair(url, ops, hot_counter, raw_counter, counted("bench:hc", "rc")),
        "int_iadd": lambda: _measure_pair(url, ops, hot_int, raw_int, ints_done),
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
            res = results[name]

            def med(field: str) -> float:
                return summarize([x[field] for x in res])[0]

            h_med, h_lo, h_hi = summarize([x["hotsync_ops_s"] for x in res])
            r_med, r_lo, r_hi = summarize([x["raw_ops_s"] for x in res])
            q_med, q_lo, q_hi = summarize([x["ratio"] for x in res])
            rows.append([
                f"`{name}`", hot_how, h_med, f"{h_lo:,.0f}–{h_hi:,.0f}", raw_how, r_med, f"{r_lo:,.0f}–{r_hi:,.0f}",
                q_med, f"{q_lo:.2f}–{q_hi:.2f}", med("hotsync_rtt_op"), med("raw_rtt_op"),
                med("hotsync_cmds_op"), med("raw_cmds_op"), med("hotsync_cpu_us"), med("raw_cpu_us"),
                "yes" if all(x["correct"] for x in res) else "NO",
            ])
        print(table(
            ["workload", "hotsync", "ops/s (median)", "range", "raw redis-py", "ops/s (median)", "range",
             "× raw", "× raw range", "RTT/op hotsync", "RTT/op raw", "server cmds/op hotsync", "server cmds/op raw",
             "client CPU µs/op hotsync", "client CPU µs/op raw", "correct"],
            rows,
        ))
        print(f"\nTarget: × raw >= 0.95 and 1 RTT/op. reps={args.reps} (interleaved), medians shown.")


if __name__ == "__main__":
    main()
