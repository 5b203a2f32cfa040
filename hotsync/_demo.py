"""``hotsync demo``: run the worker-pool example (``examples/workers/pool.py local``).

The example ships in the wheel as ``hotsync/_examples/workers``; from a source
checkout it is read from ``examples/workers``.  Without ``--redis``/``$REDIS_URL``
a private Redis is started for the run and stopped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from ._embedded import RedisServer

__all__ = ["example_path", "run_demo"]


def example_path() -> Path:
    """The worker-pool example script (wheel install or source checkout)."""
    packaged = resources.files("hotsync").joinpath("_examples", "workers", "pool.py")
    if packaged.is_file():
        return Path(str(packaged))
    root = Path(__file__).resolve().parent.parent / "examples" / "workers" / "pool.py"
    if root.is_file():
        return root
    raise FileNotFoundError("the worker-pool example is missing from this installation")


def run_demo(url: str | None = None, workers: int = 4, jobs: int = 400, chaos: bool = True, out=sys.stdout) -> int:
    """Run the example against ``url`` (or an embedded Redis); return its exit code."""
    url = url or os.environ.get("HOTSYNC_REDIS_URL") or os.environ.get("REDIS_URL")
    server = None
    if url is None:
        server = RedisServer().start()
        url = server.url
        print(f"started an embedded Redis ({server.binary}) on {url}", file=out, flush=True)
    else:
        print(f"using Redis at {url}", file=out, flush=True)
    cmd = [sys.executable, str(example_path()), "--redis", url, "local", "--jobs", str(jobs), "--workers", str(workers)]
    if not chaos:
        cmd.append("--no-chaos")
    proc = subprocess.Popen(cmd)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the example got it too (same process group) and is stopping
                continue
    finally:
        if server is not None:
            server.stop()
