"""A real two-node Ray cluster on 127.0.0.1 for the tests: `ray start --head` and a second node
joining it with `ray start --address`, each with its own custom resource so a test can tell
which node graded what, and one `grader_slot` each so a pool of two actors takes both nodes.

Both `ray start` processes run with `--block` in their own process groups, under a temp dir of
their own. `stop()` ends exactly those: the two process groups, then any process whose command
line names the temp dir (raylet, GCS, workers), by pid; never `ray stop`, which would end every
Ray on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import REPO

RAY = Path(sys.executable).with_name("ray")
OBJECT_STORE = 100 * 1024 * 1024  # bytes: Ray's floor is 75 MiB
START_TIMEOUT = 90  # seconds for both nodes to join


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    temp_dir: Path
    address: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)  # node id -> "head" or "worker"
    saved_env: dict[str, str | None] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment of the nodes and of CLI runs: this checkout first on the path."""
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        return {
            **os.environ,
            "PYTHONPATH": path,
            "RAY_BACKEND_LOG_LEVEL": "error",
            "RAY_USAGE_STATS_ENABLED": "0",
            "HF_HUB_OFFLINE": "1",
        }

    def _start(self, role: str, *args: str) -> None:
        log = (self.temp_dir / f"{role}.log").open("wb")
        cmd = [
            str(RAY),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            f"--object-store-memory={OBJECT_STORE}",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            "--resources",
            json.dumps({f"{role}_node": 1, "grader_slot": 1}),
            *args,
        ]
        proc = subprocess.Popen(
            cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(proc)

    def start(self) -> None:
        # A token of our own, so neither a token in ~/.ray nor its absence changes the test.
        token = self.temp_dir / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        for name, value in (("RAY_AUTH_MODE", "token"), ("RAY_AUTH_TOKEN_PATH", str(token))):
            self.saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        _reload_auth()
        import ray

        port = free_port()
        self.address = f"127.0.0.1:{port}"
        self._start(
            "head",
            "--head",
            f"--port={port}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
        )
        self._wait_for_head()
        self._start("worker", f"--address={self.address}")
        deadline = time.monotonic() + START_TIMEOUT
        ray.init(address=self.address, logging_level="error", log_to_driver=False)
        while True:
            alive = [n for n in ray.nodes() if n["Alive"]]
            if len(alive) == 2:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker node did not join: {self.log_tail()}")
            time.sleep(0.5)
        for node in alive:
            role = "head" if "head_node" in node["Resources"] else "worker"
            self.nodes[node["NodeID"]] = role

    def _wait_for_head(self) -> None:
        host, port = self.address.split(":")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.processes[0].poll() is not None:
                raise RuntimeError(f"ray start --head exited: {self.log_tail()}")
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the head node did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted(self.temp_dir.glob("*.log"))
        return " | ".join(p.read_text(errors="replace")[-800:] for p in logs)

    def our_pids(self) -> list[int]:
        """Processes whose command line names our temp dir (none of another Ray's)."""
        mine = str(self.temp_dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if mine in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def stop(self) -> None:
        import ray

        ray.shutdown()
        for proc in self.processes:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        for proc in self.processes:
            _signal_group(proc, signal.SIGKILL)  # anything left in the groups
        for pid in self.our_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reload_auth()


def _reload_auth() -> None:
    """Make this process read RAY_AUTH_* again (Ray reads them once, on import)."""
    from ray._private.authentication_test_utils import reset_auth_token_state

    reset_auth_token_state()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def new_cluster() -> Cluster:
    # A short path: Ray's unix sockets live under it, and their paths have a length limit.
    return Cluster(Path(tempfile.mkdtemp(prefix="evray-", dir="/tmp")))
