"""The ``hotsync`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    summary = run_demo(args.redis, workers=args.workers, rounds=args.rounds)
    return 0 if summary.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotsync", description="Distributed threading/queue/collections on Redis.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo: worker processes sharing a lock (embedded Redis if no URL)")
    demo.add_argument("--redis", help="Redis URL (default: $REDIS_URL, else an embedded server)")
    demo.add_argument("--workers", type=int, default=5, help="worker processes (default 5)")
    demo.add_argument("--rounds", type=int, default=200, help="critical sections per worker (default 200)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
