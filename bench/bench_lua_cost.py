"""Server time of a Lua script against native commands: what each ``redis.call`` costs.

hotsync keeps its promises (leases, retry guards, join counts, server-clock stamps)
inside Lua scripts; on a CPU-bound box the server time they add is what separates
it from a raw reference doing less.  This measures, from ``INFO commandstats``
(server-side µs per call, network excluded), in one run on one server:

* native ``PING`` and ``LPUSH`` (what the raw references send);
* ``EVALSHA`` of scripts making 0, 1, 5 and 10 ``redis.call('TIME')`` calls (the
  per-script and per-call costs);
* ``hotsync.Queue.put`` (``queue_put_plain``: 5 calls) next to a raw ``LPUSH``.

Run: ``python bench/bench_lua_cost.py [--redis URL] [--reps N]``.
"""

from __future__ import annotations

from _common import header, parser, raw_client, reset_stats, server, summarize, table

import hotsync

N = 3000


def _usec_per_call(r, command: str) -> float:
    return float(r.info("commandstats")[f"cmdstat_{command}"]["usec_per_call"])


def _measure(r, command: str, run) -> float:
    reset_stats(r)
    for _ in range(N):
        run()
    return _usec_per_call(r, command)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    with server(args.redis) as url:
        r = raw_client(url)
        key = "bench:lua-cost"
        scripts = {n: r.script_load("local t " + "t = redis.call('TIME') " * n + "return 1") for n in (0, 1, 5, 10)}
        c = hotsync.HotClient.from_url(url, metrics=False, socket_timeout=None)
        q = hotsync.Queue(key=f"{key}:q", client=c)
        payload = {"job": 12345, "kind": "resize", "args": ["a.png", 640]}
        data = hotsync.codecs.get_codec("json").dumps(payload)
        systems = {
            "PING (native)": ("ping", lambda: r.ping()),
            "LPUSH (native)": ("lpush", lambda: r.lpush(f"{key}:l", data)),
            **{f"EVALSHA, {n} redis.call": ("evalsha", lambda s=s: r.evalsha(s, 0)) for n, s in scripts.items()},
            "Queue.put (queue_put_plain, 5 calls)": ("evalsha", lambda: q.put(payload)),
        }
        results: dict[str, list[float]] = {name: [] for name in systems}
        for _ in range(args.reps):
            for name, (command, run) in systems.items():
                results[name].append(_measure(r, command, run))
        r.delete(f"{key}:l", f"{key}:q")
        print(header("Server time per command (INFO commandstats)", url))
        rows = []
        for name, values in results.items():
            med, lo, hi = summarize(values)
            rows.append([name, med, f"{lo:.2f}–{hi:.2f}"])
        print(table(["command", "server µs per call (median)", "range"], rows))
        per_call = (summarize(results["EVALSHA, 10 redis.call"])[0] - summarize(results["EVALSHA, 0 redis.call"])[0]) / 10
        print(f"\nEach redis.call inside a script adds about {per_call:.2f} µs here (TIME itself is a native ~0.5 µs). "
              f"{N} calls per row, reps={args.reps}.")


if __name__ == "__main__":
    main()
