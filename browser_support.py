"""A Streamlit server and a Chromium for the browser tests (tests/e2e) and the benchmark (bench/).

Servers listen on 127.0.0.1 at a free port and write their output to a log; `stop()` ends the
server and any child it made, nothing else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium; scripts/test.sh installs it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
RESERVED_PORTS = (range(8599, 8620), range(8640, 8660))  # other engineers' servers on this machine

# Run locally: no file watcher, so nothing reruns the app while tests or timings run.
LOCAL_OPTIONS = {"server.fileWatcherType": "none", "server.runOnSave": "false"}
# What Streamlit Community Cloud forces whatever .streamlit/config.toml says. Environment variables
# beat config.toml (command-line options beat both, so a Cloud-like server passes none of these).
CLOUD_ENV = {"STREAMLIT_RUNNER_FAST_RERUNS": "true", "STREAMLIT_SERVER_RUN_ON_SAVE": "true",
             "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "false", "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "true"}
CLOUD_BASE_PATH = "module-lab"  # Cloud serves an app below a path of its own


def launch_args() -> dict:
    """Keyword arguments for Playwright's `chromium.launch`: Debian's Chromium where it exists
    (else Playwright's own), without the services a test has no use for."""
    args: dict = {"args": CHROMIUM_ARGS}
    if CHROMIUM.exists():
        args["executable_path"] = str(CHROMIUM)
    return args


def free_port() -> int:
    """A port the kernel says is free (bind to 0), outside the ranges other engineers use."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not any(port in reserved for reserved in RESERVED_PORTS):
            return port


class StreamlitServer:
    """`streamlit run script` in app_dir, headless, no usage stats; `url` includes the base path.

    options: more `--name value` pairs (e.g. LOCAL_OPTIONS); env: variables added to this process's;
    base_path: serve below http://127.0.0.1:<port>/<base_path>, as Community Cloud does.
    """

    def __init__(self, app_dir: Path, log: Path, script: str = "app.py", options: dict[str, str] | None = None,
                 env: dict[str, str] | None = None, base_path: str = ""):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}" + (f"/{base_path}" if base_path else "")
        self.log = log
        options = {"server.headless": "true", "server.address": "127.0.0.1", "server.port": str(self.port),
                   "browser.gatherUsageStats": "false", **({"server.baseUrlPath": base_path} if base_path else {}),
                   **(options or {})}
        command = [sys.executable, "-m", "streamlit", "run", script]
        for name, value in options.items():
            command += [f"--{name}", value]
        self.started = time.perf_counter()
        with log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=app_dir, stdout=out, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(env or {})})

    def wait_healthy(self, timeout_s: float = 120) -> None:
        """Return once the health check answers; RuntimeError if the server exits, TimeoutError if it takes too long."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)
        raise TimeoutError(f"streamlit did not answer on {self.url} within {timeout_s} s; see {self.log}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server we started (and any child it made), nothing else."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:  # already gone
            children = []
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for child in children:
            if child.is_running():
                child.kill()

    def __enter__(self) -> StreamlitServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
