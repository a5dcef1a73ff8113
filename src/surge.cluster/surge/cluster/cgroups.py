"""Each cluster server's processes in a control group of its own (cgroup v2).

bin/cluster starts a server's supervisord inside its group, and everything
it starts stays there, even the processes that leave supervisord's tree
(Patroni starts PostgreSQL in a session of its own). So a server can be cut
the way a power cut would: every process frozen at once, then killed at once
(``cgroup.freeze``, ``cgroup.kill``), or only frozen for a while, as a
machine that stalls. Nothing outside the groups this module made is touched.
"""

import hashlib
import os
import time


class CgroupError(Exception):
    """No cgroup v2 hierarchy to use here; the message says what is missing."""


def hierarchy():
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside v1)."""
    with open("/proc/mounts") as stream:
        mounts = [line.split() for line in stream]
    for _device, target, kind, *_ in mounts:
        if kind == "cgroup2" and os.access(target, os.W_OK):
            return target
    raise CgroupError("no writable cgroup v2 hierarchy in /proc/mounts: bin/cluster runs each server in a "
                      "control group of its own (run it as root on Linux 5.14 or newer)")


def group(root, name):
    """The control group of server NAME of the cluster in ROOT (not created)."""
    cluster = "surge-cluster-" + hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:12]
    return os.path.join(hierarchy(), cluster, name)


def create(root, name):
    path = group(root, name)
    os.makedirs(path, exist_ok=True)
    return path


def join(path):
    """Move the calling process into PATH (the child, before it runs supervisord)."""
    with open(os.path.join(path, "cgroup.procs"), "w") as stream:
        stream.write(str(os.getpid()))


def pids(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as stream:
            return [int(line) for line in stream if line.strip()]
    except FileNotFoundError:
        return []


def write(path, control, value):
    try:
        with open(os.path.join(path, control), "w") as stream:
            stream.write(value)
    except FileNotFoundError:
        raise CgroupError(f"{path} does not exist: the server was not started by bin/cluster up") from None


def frozen(path):
    with open(os.path.join(path, "cgroup.events")) as stream:
        return dict(line.split() for line in stream).get("frozen") == "1"


def freeze(path, deadline=30):
    """Stop every process of the group where it is; returns when the kernel says all are."""
    write(path, "cgroup.freeze", "1")
    wait(lambda: frozen(path), deadline, f"{path} to freeze")


def thaw(path):
    write(path, "cgroup.freeze", "0")


def kill(path, deadline=30):
    """SIGKILL every process of the group at once, frozen first so none can react; waits until none is left."""
    if not pids(path):
        return 0
    killed = len(pids(path))
    freeze(path)
    write(path, "cgroup.kill", "1")
    thaw(path)
    wait(lambda: not pids(path), deadline, f"every process of {path} to die")
    return killed


def remove(path):
    """Remove an empty group (and its cluster's group when that is empty too)."""
    for folder in (path, os.path.dirname(path)):
        try:
            os.rmdir(folder)
        except OSError:
            return


def wait(condition, deadline, what):
    limit = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > limit:
            raise CgroupError(f"gave up after {deadline} s waiting for {what}")
        time.sleep(0.05)
