"""Shared helpers of the repository's tests: paths, commands, checkouts, servers."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from surge.cluster.checkout import sync

REPO = os.environ.get("SURGE_BUILDOUT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP_LEVEL_FILES = ["buildout.cfg", "prod-app-master.cfg", "prod-app-slave.cfg", "prod-web-1.cfg", "prod-web-2.cfg"]
PRODUCTION_FILES = [name for name in TOP_LEVEL_FILES if name.startswith("prod-")]
# The Python the README tells people to use, not the one running pytest.
PYTHON = shutil.which("python3") or sys.executable


def repo_path(*parts):
    return os.path.join(REPO, *parts)


def run(command, cwd=REPO, timeout=900, check=True, env=None):
    """Run a command, echo what it printed (pytest shows it on failure), return the result."""
    print(f"$ {' '.join(command)}  (in {cwd})", flush=True)
    result = subprocess.run(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )
    print(result.stdout)
    if check and result.returncode:
        pytest.fail(f"{command[0]} exited {result.returncode}:\n{result.stdout[-4000:]}")
    return result


def copy_checkout(destination):
    """Copy this repository as a clean clone would have it."""
    sync(REPO, destination)
    return destination


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_http(url, deadline_seconds, process=None):
    """Poll url until it answers 200; fail at the deadline or if process died."""
    deadline = time.monotonic() + deadline_seconds
    last_error = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as error:
            last_error = error
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {deadline_seconds} s: {last_error}")


class Server:
    """A server process the test started, stopped by its own process group."""

    def __init__(self, command, cwd, log_path):
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def stop(self, timeout=60):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        self.log.close()


@pytest.fixture
def servers():
    """Start servers with servers.start(...); every one is stopped after the test."""
    started = []

    class Starter:
        def start(self, command, cwd, log_path):
            server = Server(command, cwd, log_path)
            started.append(server)
            return server

    yield Starter()
    for server in reversed(started):
        server.stop()
