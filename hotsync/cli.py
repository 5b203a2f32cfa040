"""The ``hotsync`` command: demo, inspect, repair, exporter.

Every command that talks to Redis takes ``--redis URL`` (default ``$HOTSYNC_REDIS_URL``,
``$REDIS_URL``, ``redis://localhost:6379/0``) and ``--prefix`` (the key prefix of
your clients).  Unreachable Redis gives a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import redis

__all__ = ["main", "build_parser"]


def _url(args: argparse.Namespace) -> str:
    return args.redis or os.environ.get("HOTSYNC_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://localhost:6379/0"


def _client(args: argparse.Namespace) -> Any:
    from .client import HotClient
    from ._retry import RetryPolicy

    return HotClient.from_url(_url(args), key_prefix=args.prefix, metrics=False, retry=RetryPolicy(budget=2.0),
                              socket_connect_timeout=3.0)


# -- demo ---------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.redis, workers=args.workers, jobs=args.jobs, chaos=not args.no_chaos)


# -- inspect --------------------------------------------------------------------------


def _summary(kind: str, state: dict[str, Any]) -> str:
    if "error" in state:
        return state["error"]
    if kind in ("lock", "rlock"):
        if state["locked"]:
            who = ", ".join(f"{h['host']} pid {h['pid']}" + (f" depth {h['depth']}" if h["depth"] > 1 else "")
                            for h in state["holders"])
            left = f", lease {state['lease_left']:.1f}s left" if state["lease_left"] is not None else ""
            held = f"held by {who} (token {state['token']}{left})"
        else:
            held = f"free (last token {state['token']})" if state["token"] else "free"
        return f"{held}, {state['waiting']} waiting"
    if kind in ("semaphore", "bounded_semaphore") and state.get("capacity") is not None:
        return f"{state['in_use']}/{state['capacity']} permits in use, {state['waiting']} waiting"
    if kind == "ratelimiter":
        if not state["active"]:
            return "idle (full burst available)"
        return f"{state['rate']:g}/s, burst {state['burst']}, {state['backlog']:.3f}s reserved ahead"
    if "depth" in state:
        by = state.get("in_flight_by_consumer") or {}
        flight = f" ({', '.join(f'{c}: {n}' for c, n in by.items())})" if by else ""
        return (f"{state['depth']} ready (oldest {state['oldest_age']:.1f}s), {state['in_flight']} in flight{flight}, "
                f"{state['delayed']} delayed, {state['dead_letters']} dead, {state['consumers']} consumers")
    return ", ".join(f"{k} {v}" for k, v in state.items() if not isinstance(v, (list, dict)))


def _inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect

    states = inspect(_client(args), args.pattern)
    if args.json:
        json.dump([s.as_dict() for s in states], sys.stdout, indent=2, default=str)
        print()
        return 0
    if not states:
        print("no named hotsync objects" + (f" match {args.pattern!r}" if args.pattern else ""))
        return 0
    width_kind = max(len("KIND"), *(len(s.kind) for s in states))
    width_key = max(len("KEY"), *(len(s.key) for s in states))
    print(f"{'KIND':<{width_kind}}  {'KEY':<{width_key}}  STATE")
    for s in states:
        print(f"{s.kind:<{width_kind}}  {s.key:<{width_key}}  {_summary(s.kind, s.state)}")
    return 0


# -- repair ----------------------------------------------------------------------------


def _unlock(args: argparse.Namespace) -> int:
    from .inspect import bare_client
    from .lock import Lock, RLock

    client = bare_client(_client(args))
    key = args.prefix + args.key
    cls = RLock if args.kind == "rlock" else Lock
    lock = cls(key, client)
    before = lock.statistics()
    if not before.locked:
        print(f"{args.kind} {key!r} is not held; nothing to do")
        return 0
    holders = lock.force_release()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for h in holders:
        print(f"{stamp} AUDIT force-released {args.kind} {key!r} held by {h.owner} (host {h.host}, pid {h.pid}, "
              f"depth {h.depth}, token {before.token}, lease {before.lease_left}s left) "
              f"by {getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}")
    return 0


def _queue(args: argparse.Namespace) -> Any:
    """The queue at ``args.key``, as the class its creator used, attached without changing it."""
    from . import _keys
    from ._keys import index_key
    from .inspect import bare_client
    from . import queue as q

    client = bare_client(_client(args))
    key = args.prefix + args.key
    kind = client.redis.hget(index_key(args.prefix), key)
    classes = {"queue": q.Queue, "lifoqueue": q.LifoQueue, "priorityqueue": q.PriorityQueue,
               "setqueue": q.SetQueue, "lifosetqueue": q.LifoSetQueue}
    cls = classes.get(kind.decode() if kind else "queue", q.Queue)
    stored = client.redis.hget(_keys.aux(key, "meta"), "maxsize")
    return cls(int(stored or 0), key, client)


def _dead_letters(args: argparse.Namespace) -> int:
    queue = _queue(args)
    if args.replay:
        total = queue.dead_count() if args.limit is None else min(args.limit, queue.dead_count())
        done = 0
        while done < total:  # in chunks, so a long replay shows its progress
            step = queue.replay_dead(min(1000, total - done))
            if step == 0:
                break
            done += step
            _progress_line(f"replaying {queue.key!r}", done, total)
        print(f"replayed {done} dead letter(s) of {queue.key!r} into the queue")
        return 0
    if args.purge:
        n = queue.purge_dead()
        print(f"purged {n} dead letter(s) of {queue.key!r}")
        return 0
    letters = queue.dead_letters(args.limit)
    if args.json:
        json.dump([{"id": d.id, "attempts": d.attempts, "value": d.value} for d in letters], sys.stdout,
                  indent=2, default=repr)
        print()
        return 0
    print(f"{queue.dead_count()} dead letter(s) in {queue.key!r}" + (" (oldest first)" if letters else ""))
    for d in letters:
        print(f"  {d.id}  attempts {d.attempts}  {json.dumps(d.value, default=repr)[:200]}")
    return 0


def _progress_line(what: str, done: int, total: int) -> None:
    """A live progress bar on a terminal; nothing when the output is a pipe or a file."""
    if not sys.stdout.isatty() or not total:
        return
    filled = int(30 * done / total)
    end = "\n" if done >= total else ""
    print(f"\r{what}: [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,}", end=end, flush=True)


def _requeue(args: argparse.Namespace) -> int:
    queue = _queue(args)
    if args.consumer:
        n = queue.requeue_consumer(args.consumer)
        print(f"requeued {n} in-flight message(s) of consumer {args.consumer!r} on {queue.key!r}")
    else:
        n = queue.reap()
        print(f"requeued {n} in-flight message(s) of expired consumers on {queue.key!r}")
    return 0


# -- exporter ---------------------------------------------------------------------------


def _exporter(args: argparse.Namespace) -> int:
    from .exporter import serve

    client = _client(args)
    client.ping()
    print(f"hotsync exporter: live state of {_url(args)} on http://{args.bind}:{args.port}/metrics", flush=True)
    serve(client, args.port, args.bind, args.pattern)
    return 0


# -- main -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotsync", description="Distributed threading/queue/collections on Redis.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if name != "demo":
            p.add_argument("--redis", help="Redis URL (default: $HOTSYNC_REDIS_URL, $REDIS_URL, localhost)")
            p.add_argument("--prefix", default="", help="key prefix of your hotsync clients")
        return p

    demo = command("demo", _demo, "run the worker-pool example (an embedded Redis unless --redis/$REDIS_URL)")
    demo.add_argument("--redis", help="Redis URL (default: $REDIS_URL, else an embedded server)")
    demo.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    demo.add_argument("--jobs", type=int, default=400, help="jobs to process (default 400)")
    demo.add_argument("--no-chaos", action="store_true", help="do not SIGKILL a worker mid-run")

    ins = command("inspect", _inspect, "show every named lock, semaphore, rate limiter and queue")
    ins.add_argument("pattern", nargs="?", help="glob over keys, e.g. 'jobs:*'")
    ins.add_argument("--json", action="store_true", help="machine-readable output")

    unlock = command("unlock", _unlock, "force-release a stuck lock (audited on stdout)")
    unlock.add_argument("key", help="the lock's key")
    unlock.add_argument("--kind", choices=["lock", "rlock"], default="lock")

    dead = command("dead-letters", _dead_letters, "list, replay or purge a queue's dead letters")
    dead.add_argument("key", help="the queue's key")
    dead.add_argument("--limit", type=int, help="at most this many (oldest first)")
    action = dead.add_mutually_exclusive_group()
    action.add_argument("--replay", action="store_true", help="put them back into the queue")
    action.add_argument("--purge", action="store_true", help="delete them")
    dead.add_argument("--json", action="store_true", help="machine-readable listing")

    req = command("requeue", _requeue, "redeliver in-flight messages of dead (or one named) consumers")
    req.add_argument("key", help="the queue's key")
    req.add_argument("--consumer", help="requeue this consumer's messages even if it looks alive")

    exp = command("exporter", _exporter, "serve Prometheus gauges of the live state in Redis")
    exp.add_argument("--port", type=int, default=9709, help="HTTP port (default 9709)")
    exp.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    exp.add_argument("--pattern", help="only objects whose key matches this glob")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        print(f"hotsync: cannot reach Redis at {_url(args)}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
