"""Running the real sdnapp process: start it with a config file, wait until healthy, stop it by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import yaml


class SdnappProcess:
    def __init__(
        self,
        workdir: Path,
        api_port: int = 9696,
        of_ports: tuple[int, ...] = (6653, 6633),
        extra: dict[str, object] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_port = api_port
        self.of_ports = of_ports
        self.config_path = self.workdir / "sdnapp.yaml"
        config: dict[str, object] = {
            "api": {"host": "127.0.0.1", "port": api_port},
            "openflow": {"listen_host": "127.0.0.1", "ports": list(of_ports)},
            "store": {"path": "sdnapp.db"},
            "logging": {"level": "INFO"},
        }
        config.update(extra or {})
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = self.workdir / "sdnapp.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0  # where this run's lines begin in the log (a restart appends)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 20.0) -> None:
        self._log = open(self.log_path, "ab")
        self._log_start = self._log.tell()
        cmd = [sys.executable, "-m", "sdnapp.cli", "run", "--config", str(self.config_path)]
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sdnapp exited with {self.proc.returncode}; log:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"sdnapp not healthy after {timeout}s; log:\n{self.log()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.close()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_of_this_run(self) -> str:
        """What the process wrote since it was last started."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(self._log_start)
            return f.read().decode(errors="replace")
