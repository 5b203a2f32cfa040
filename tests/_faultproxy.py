"""A loopback TCP proxy that injects faults between a client and redis-server.

Modes: ``pass``; ``drop_replies`` (requests reach the server, replies are
discarded: the client cannot know whether its command ran); ``stall`` (hold all
traffic until the mode changes); ``reset()`` aborts every proxied connection.
Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import threading


class FaultProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.mode = "pass"
        self._changed = threading.Condition()
        self._conns: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def set(self, mode: str) -> None:
        assert mode in ("pass", "drop_replies", "stall")
        with self._changed:
            self.mode = mode
            self._changed.notify_all()

    def reset(self) -> None:
        for s in list(self._conns):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._conns.clear()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.reset()
        self.set("pass")

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            self._conns.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, is_reply: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._changed:
                    while self.mode == "stall":
                        self._changed.wait()
                    drop = is_reply and self.mode == "drop_replies"
                if not drop:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass
            self._conns.discard(src)
            self._conns.discard(dst)
