"""Confined, each app server gets an equal part of the app CPUs, as machines of its own would.

Affinity alone puts both app servers on the same app CPUs, where the kernel
schedules each server's processes as one group (its supervisord's session,
``sched_autogroup``) and nice levels order processes only inside a group: in
a lull app-slave's author instance would have the whole app core, in a spike
only the half that app-master's group leaves it, whatever its nice level.
Two machines of equal size give each server its half in the lull as in the
spike. A CFS bandwidth quota in a cpu control group of the server's own caps
it there (a process in a cpu group of its own is scheduled in that group,
not in its session's autogroup). The cpu controller is in the cgroup v2
hierarchy on a unified machine (``cpu.max``) and in a v1 hierarchy of its own
on a hybrid one (``cpu.cfs_quota_us``). Sharing lifts the quotas and leaves
the groups.
"""

import os

from surge.cluster import cgroups

# A throttled group stops whole, its database and cache too, until the next period, whatever their nice
# level: a short period keeps each stop short (half of 5 ms at most when the part is half).
PERIOD_US = 5_000


def v1_mount():
    """Where a cgroup v1 hierarchy with the cpu controller is mounted, or None."""
    with open("/proc/mounts") as stream:
        for _device, target, kind, options, *_ in (line.split() for line in stream):
            if kind == "cgroup" and "cpu" in options.split(",") and os.access(target, os.W_OK):
                return target
    return None


def v2_has_cpu():
    with open(os.path.join(cgroups.hierarchy(), "cgroup.controllers")) as stream:
        return "cpu" in stream.read().split()


def group(root, name):
    """The cpu control group of server NAME (the server's v2 group on a unified machine)."""
    mount = v1_mount()
    if mount:
        v2_group = cgroups.group(root, name)
        return os.path.join(mount, os.path.basename(os.path.dirname(v2_group)), name)
    if v2_has_cpu():
        return cgroups.group(root, name)
    raise cgroups.CgroupError("no cpu controller in /proc/mounts (cgroup v1 cpu, or cpu in the v2 hierarchy's "
                              "cgroup.controllers): confining gives each app server a CPU quota")


def enable_v2(path):
    """The cpu controller on for the server's group: its parents hand it down (cgroup.subtree_control)."""
    parents = []
    folder = os.path.dirname(path)
    while folder.startswith(cgroups.hierarchy()):
        parents.insert(0, folder)
        folder = os.path.dirname(folder)
    for parent in parents:
        cgroups.write(parent, "cgroup.subtree_control", "+cpu")


def limit(root, name, cores, pids):
    """Server NAME's processes PIDS held to CORES CPUs' worth of time; the group's path."""
    path = group(root, name)
    quota = max(1000, round(cores * PERIOD_US))
    if path == cgroups.group(root, name):
        enable_v2(path)
        cgroups.write(path, "cpu.max", f"{quota} {PERIOD_US}")
        return path
    os.makedirs(path, exist_ok=True)
    for pid in pids:
        try:
            cgroups.write(path, "cgroup.procs", str(pid))
        except ProcessLookupError:  # a process that ended meanwhile
            continue
    cgroups.write(path, "cpu.cfs_period_us", str(PERIOD_US))
    cgroups.write(path, "cpu.cfs_quota_us", str(quota))
    return path


def lift(root, name):
    """No quota on server NAME any more (its processes stay in their group)."""
    path = group(root, name)
    if not os.path.isdir(path):
        return
    if path == cgroups.group(root, name):
        cgroups.write(path, "cpu.max", f"max {PERIOD_US}")
    else:
        cgroups.write(path, "cpu.cfs_quota_us", "-1")


def cores(path):
    """The CPUs' worth of time the group at PATH may take (None: no quota)."""
    if os.path.exists(os.path.join(path, "cpu.max")):
        with open(os.path.join(path, "cpu.max")) as stream:
            quota, period = stream.read().split()
        return None if quota == "max" else int(quota) / int(period)
    with open(os.path.join(path, "cpu.cfs_quota_us")) as stream:
        quota = int(stream.read())
    with open(os.path.join(path, "cpu.cfs_period_us")) as stream:
        return None if quota < 0 else quota / int(stream.read())


def of(pid):
    """The cpu control group process PID is in, as a path (None when it has none of its own)."""
    mount = v1_mount()
    with open(f"/proc/{pid}/cgroup") as stream:
        for line in stream:
            _number, controllers, relative = line.rstrip("\n").split(":", 2)
            if (mount and "cpu" in controllers.split(",")) or (not mount and controllers == ""):
                return os.path.join(mount or cgroups.hierarchy(), relative.lstrip("/")) if relative != "/" else None
    return None


def remove(root, name):
    """The server's v1 cpu group, once empty, and its cluster's (v2 groups are cgroups.remove's)."""
    if v1_mount():
        cgroups.remove(group(root, name))
