"""Confined, the app servers' processes are one scheduling group on the app CPUs.

Linux schedules the processes of each session as one group
(``sched_autogroup``): each server's supervisord starts a session, so on
the shared app CPUs the kernel would first split the time between
app-master and app-slave and only then order each server's processes by
nice level. In a lull app-slave's author instance would have the whole
core, in a spike only the half app-master's group leaves it, whatever its
priority. In one cpu control group of their own (a process in a cpu group
other than the root is not in its session's autogroup), the nice levels
order the app tier's processes across both servers, as they order them
within one: authors, PostgreSQL and memcached ahead of members, members
ahead of anonymous work, and no CPU left idle by a cap.

The group is in the cgroup v1 cpu hierarchy, which this machine kind still
mounts beside the unified one (whose cpu controller is not enabled here).
Where the servers' own v2 groups have the cpu controller (a v2-only
machine), each server's group is a scheduling group of its own and the
kernel splits the core between them by ``cpu.weight``, the same split;
this module does nothing there (no v1 cpu hierarchy) and that case is not
handled.
"""

import os

from surge.cluster import cgroups

NAME = "app-tier"


def v1_mount():
    """Where a cgroup v1 hierarchy with the cpu controller is mounted, or None."""
    with open("/proc/mounts") as stream:
        for _device, target, kind, options, *_ in (line.split() for line in stream):
            if kind == "cgroup" and "cpu" in options.split(",") and os.access(target, os.W_OK):
                return target
    return None


def path(root):
    """The app tier's cpu group of the cluster in ROOT, or None where there is no v1 cpu hierarchy."""
    mount = v1_mount()
    if not mount:
        return None
    cluster = os.path.basename(os.path.dirname(cgroups.group(root, NAME)))
    return os.path.join(mount, cluster, NAME)


def move(pids, folder):
    """Every process of PIDS (each with all its threads) into the v1 group FOLDER; how many moved."""
    moved = 0
    for pid in pids:
        try:
            cgroups.write(folder, "cgroup.procs", str(pid))
            moved += 1
        except ProcessLookupError:  # a process that ended meanwhile
            continue
    return moved


def join(root, pids):
    """PIDS into the app tier's cpu group (made if need be); the number moved (0 where there is none)."""
    folder = path(root)
    if not folder:
        return 0
    os.makedirs(folder, exist_ok=True)
    return move(pids, folder)


def leave(root):
    """The app tier's processes back in the cpu hierarchy's root, and the group removed."""
    folder = path(root)
    if not folder or not os.path.isdir(folder):
        return
    move(cgroups.pids(folder), v1_mount())
    cgroups.remove(folder)


def remove(root):
    """The app tier's cpu group, once no process is left in it (bin/cluster down)."""
    folder = path(root)
    if folder:
        cgroups.remove(folder)


def of(pid):
    """The cpu control group of process PID in the v1 cpu hierarchy ("/" for its root), or None without one."""
    if not v1_mount():
        return None
    with open(f"/proc/{pid}/cgroup") as stream:
        for line in stream:
            _number, controllers, relative = line.rstrip("\n").split(":", 2)
            if "cpu" in controllers.split(","):
                return relative
    return None
