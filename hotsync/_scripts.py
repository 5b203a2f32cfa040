"""Lua scripts: one file per atomic operation in ``lua/``, loaded once per process.

The folder sits at the repository root; the wheel carries it as ``hotsync/lua``.
:func:`lua_dir` finds whichever exists.  A :class:`Script` knows its body and
SHA1 (computed locally); :meth:`hotsync.HotClient.run_script` sends ``EVALSHA``
and falls back to ``EVAL`` on ``NOSCRIPT`` (fresh server, ``SCRIPT FLUSH``,
failover), which also caches the script on that server.  Scripts are never bound
to a client.

Redis runs each script on its own, so code two scripts share lives in
``lua/lib/<name>.lua`` and is inlined where a script has the line
``-- @include <name>`` (the SHA is that of the expanded body).
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Script", "script", "lua_dir", "loaded_names", "included_names"]


def lua_dir() -> Path:
    """The folder holding the ``.lua`` files (wheel install or source checkout)."""
    packaged = resources.files("hotsync").joinpath("lua")
    if packaged.is_dir():
        return Path(str(packaged))
    root = Path(__file__).resolve().parent.parent / "lua"
    if root.is_dir():
        return root
    raise FileNotFoundError("hotsync's lua/ folder is missing from this installation")


class Script:
    """One Lua file: its name, body and SHA1."""

    __slots__ = ("name", "body", "sha")

    def __init__(self, name: str, body: bytes) -> None:
        self.name = name
        self.body = body
        self.sha = hashlib.sha1(body).hexdigest()

    def __repr__(self) -> str:
        return f"<Script {self.name} {self.sha[:8]}>"


_LOADED: dict[str, Script] = {}
_INCLUDED: set[str] = set()
_INCLUDE = re.compile(rb"^-- @include (\w+)$", re.M)


def _include(match: re.Match[bytes]) -> bytes:
    name = match.group(1).decode()
    _INCLUDED.add(name)
    return (lua_dir() / "lib" / f"{name}.lua").read_bytes().rstrip(b"\n")


def script(name: str) -> Script:
    """Load ``lua/<name>.lua`` with its includes (cached).  Modules call this at
    import for each script."""
    found = _LOADED.get(name)
    if found is None:
        body = _INCLUDE.sub(_include, (lua_dir() / f"{name}.lua").read_bytes())
        found = _LOADED[name] = Script(name, body)
    return found


def by_sha(sha: Any) -> Script | None:
    """The loaded script whose SHA1 is ``sha`` (str or bytes), or None."""
    if isinstance(sha, bytes):
        sha = sha.decode("ascii", "replace")
    for found in _LOADED.values():
        if found.sha == sha:
            return found
    return None


def loaded_names() -> set[str]:
    """Names of every script loaded so far (the packaging test imports all modules)."""
    return set(_LOADED)


def included_names() -> set[str]:
    """Names of every ``lua/lib`` file included by a script loaded so far."""
    return set(_INCLUDED)
