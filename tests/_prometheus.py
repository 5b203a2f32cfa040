"""A private Prometheus server for tests: scrapes given loopback targets, answers PromQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from hotsync._embedded import free_port


def binary() -> str | None:
    return shutil.which("prometheus")


class Prometheus:
    def __init__(self, targets: list[str], interval: str = "1s") -> None:
        self.dir = tempfile.mkdtemp(prefix="hotsync-prom-")
        self.port = free_port()
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [{"job_name": "hotsync", "static_configs": [{"targets": targets}]}],
        }
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump(config, f)  # JSON is YAML
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> Prometheus:
        self.proc = subprocess.Popen(
            [binary(), f"--config.file={self.config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"),
        )
        end = time.monotonic() + timeout
        while True:
            try:
                if urllib.request.urlopen(f"{self.url}/-/ready", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise RuntimeError("prometheus did not start: " + open(os.path.join(self.dir, "log")).read()[-2000:])
            time.sleep(0.1)

    def api(self, path: str, **params) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def targets_up(self) -> bool:
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
