"""Shared helpers of the repository's tests: paths, commands, checkouts, servers."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from surge.cluster.checkout import sync

# The small buildout's fixture (case) for the tests of the build machinery.
pytest_plugins = ["small_buildout"]

REPO = os.environ.get("SURGE_BUILDOUT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP_LEVEL_FILES = ["buildout.cfg", "prod-app-master.cfg", "prod-app-slave.cfg", "prod-web-1.cfg", "prod-web-2.cfg"]
PRODUCTION_FILES = [name for name in TOP_LEVEL_FILES if name.startswith("prod-")]
# The Python the README tells people to use, not the one running pytest.
PYTHON = shutil.which("python3") or sys.executable


def repo_path(*parts):
    return os.path.join(REPO, *parts)


def run(command, cwd=REPO, timeout=900, check=True, env=None, input=None):
    """Run a command (with INPUT on its standard input, else none), echo what it printed (pytest shows it
    on failure), return the result."""
    print(f"$ {' '.join(command)}  (in {cwd})", flush=True)
    result = subprocess.run(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout, env=env, input=input, stdin=None if input is not None else subprocess.DEVNULL,
    )
    print(result.stdout)
    if check and result.returncode:
        pytest.fail(f"{command[0]} exited {result.returncode}:\n{result.stdout[-4000:]}")
    return result


def copy_checkout(destination):
    """Copy this repository as a clean clone would have it."""
    sync(REPO, destination)
    return destination


def port_open(host, port):
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


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


def pytest_collection_modifyitems(config, items):
    """SURGE_TEST_ORDER=reversed runs the modules last to first, each module's own order kept: no module may
    depend on what an earlier one did or left (docs/testing.rst)."""
    order = os.environ.get("SURGE_TEST_ORDER", "")
    if order not in ("", "reversed"):
        raise pytest.UsageError(f"SURGE_TEST_ORDER = {order!r}: the one order it takes is 'reversed'")
    if order:
        modules = list(dict.fromkeys(item.nodeid.split("::")[0] for item in items))
        rank = {module: len(modules) - index for index, module in enumerate(modules)}
        items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


STRICT = "buildout:allow-picked-versions=false"


@pytest.fixture(scope="session")
def dev_build(tmp_path_factory):
    """A clean copy of the repository with its development build, as a developer's first build makes it:
    (directory, the instance's port, the build's output). test_builds.py checks it; test_migration.py
    fills its site."""
    directory = str(tmp_path_factory.mktemp("checkout"))
    copy_checkout(directory)
    run([PYTHON, "bootstrap.py"], cwd=directory)
    port = free_port()
    first = run(["bin/buildout", "-N", STRICT, f"ports:instance={port}"], cwd=directory, timeout=1500)
    return directory, port, first.stdout


@pytest.fixture(scope="session")
def cluster():
    """All four production servers built by bin/cluster into a root of their own: (root, build output).

    The root is in /tmp, not in pytest's private temporary directory, because
    the daemons run as their own users (www-data, varnish, nobody) and must
    reach their files.
    """
    # SURGE_CLUSTER_ROOT: a stopped cluster of an earlier run, rebuilt in place and kept (docs/testing.rst).
    given = os.environ.get("SURGE_CLUSTER_ROOT")
    root = given or tempfile.mkdtemp(prefix="surge-cluster-", dir="/tmp")
    try:
        built = run([repo_path("bin", "cluster"), "build", "--root", root], timeout=1800).stdout
        yield root, built
    finally:
        # SURGE_KEEP_CLUSTER=1 keeps the servers' logs for a failure to be read (docs/testing.rst).
        if given or os.environ.get("SURGE_KEEP_CLUSTER"):
            print(f"the cluster is kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def built_files(directory):
    """{path: sha256} of every file under DIRECTORY's etc/, parts/ and bin/ (refused renders left out)."""
    found = {}
    for top in ("etc", "parts", "bin"):
        for folder, _, names in os.walk(os.path.join(directory, top)):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path) and not name.endswith(".rejected"):
                    with open(path, "rb") as stream:
                        found[os.path.relpath(path, directory)] = hashlib.sha256(stream.read()).hexdigest()
    return found


def bad_setting_fails_and_keeps_live_files(directory, setting, message, names=(), *more_settings, only_names=False):
    """Rebuild the cluster server in DIRECTORY with SETTING: it fails saying MESSAGE and changes no built file
    (with ONLY_NAMES, for a failure after the files were accepted: none of etc/NAMES)."""
    before = built_files(directory)
    assert all(os.path.join("etc", name) in before for name in names)
    result = run([os.path.join(directory, "bin", "buildout"), "-N", "-c", "cluster.cfg", setting, *more_settings],
                 cwd=directory, check=False)
    assert result.returncode != 0 and message in result.stdout
    after = built_files(directory)
    if only_names:
        before, after = ({name: files[os.path.join("etc", name)] for name in names} for files in (before, after))
    assert after == before, "a file of the server changed although its build failed"
    return result.stdout


def supervisorctl(directory, *args, check=False):
    return run([os.path.join(directory, "bin", "supervisorctl"), *args], check=check).stdout


def program_states(directory):
    """[[name, state], ...] from the server's supervisorctl status."""
    return [line.split()[:2] for line in supervisorctl(directory, "status").splitlines()]


def all_running(directory):
    states = program_states(directory)
    return bool(states) and all(state == "RUNNING" for _, state in states)


def wait_until(condition, deadline_seconds, what):
    """Poll CONDITION until it is true; fail naming WHAT at the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"waited {deadline_seconds} s for: {what}")


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
