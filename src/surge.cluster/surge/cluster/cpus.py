"""Each cluster server on CPUs of its own, as separate machines would be.

On one machine the four servers and the load generator share every core, so
a spike's figures mix what a deployment would see with what this machine
adds (the load generator and the web tier taking the app servers' CPU).
Confined, the web servers and the load generator share the first half of the
CPUs this process may use and the app servers the second half (on two cores:
one each), the split a deployment has between its web and app machines.

It is CPU affinity (``sched_setaffinity``, what ``taskset`` sets) on every
thread of every process in the server's control group (surge.cluster.cgroups),
not a cgroup cpuset: the cgroup v2 hierarchy of a hybrid machine has no cpuset
controller. Processes and threads started later inherit their parent's, so a
program supervisord restarts stays where its server is.
"""

import os

from surge.cluster import cgroups
from surge.cluster.topology import SERVERS

WEB, APP = "web", "app"


class CpuError(Exception):
    """The CPUs cannot be split; the message says why."""


def available():
    """The CPUs this process may run on, in order."""
    return sorted(os.sched_getaffinity(0))


def halves(cpus=None):
    """{"web": CPUs, "app": CPUs}: the first half for the web tier and the load, the second for the app tier."""
    cpus = available() if cpus is None else sorted(cpus)
    if len(cpus) < 2:
        raise CpuError(f"confining needs at least 2 CPUs, and this process may use {len(cpus)} ({cpus})")
    middle = len(cpus) // 2
    return {WEB: frozenset(cpus[:middle]), APP: frozenset(cpus[middle:])}


def layout(cpus=None):
    """{server name: set of CPUs} when confined."""
    split = halves(cpus)
    return {server.name: split[WEB if server.web else APP] for server in SERVERS}


def threads(pids):
    found = []
    for pid in pids:
        try:
            found.extend(int(task) for task in os.listdir(f"/proc/{pid}/task"))
        except FileNotFoundError:
            continue
    return found


def place(pids, cpus, passes=5):
    """Every thread of PIDS on CPUS; the number of threads placed.

    A thread started meanwhile by one not yet placed keeps the old CPUs, so
    the threads are listed again until a pass finds none elsewhere."""
    for _ in range(passes):
        found, moved = 0, 0
        for thread in threads(pids):
            try:
                if os.sched_getaffinity(thread) != cpus:
                    os.sched_setaffinity(thread, cpus)
                    moved += 1
                found += 1
            except ProcessLookupError:
                continue
        if not moved:
            break
    return found


def server_pids(root, name):
    return cgroups.pids(cgroups.group(root, name))


def confine(root, cpus=None):
    """Every server's threads on its own CPUs (layout()); {server name: (CPUs, threads placed)}."""
    return {name: (chosen, place(server_pids(root, name), chosen)) for name, chosen in layout(cpus).items()}


def share(root):
    """Every server's threads on every CPU this process may use; {server name: (CPUs, threads placed)}."""
    every = frozenset(available())
    return {server.name: (every, place(server_pids(root, server.name), every)) for server in SERVERS}


def of(pid):
    """The CPUs process PID may run on."""
    return os.sched_getaffinity(pid)


def shown(cpus):
    return ",".join(str(cpu) for cpu in sorted(cpus))
