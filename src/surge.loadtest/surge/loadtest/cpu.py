"""Which processes used the CPU during a measurement, from /proc.

A benchmark's bottleneck is usually one process's CPU (nginx's TLS, Varnish,
HAProxy, Zope, the load generator itself): the CPU seconds each command used
between two snapshots tell which, as a share of one core.
"""

import os
import resource
import time

TICKS = os.sysconf("SC_CLK_TCK")


def snapshot():
    """{(pid, command): CPU seconds so far} of every process, and the time.

    The load generator is this program's child and is gone by the second
    snapshot: its CPU comes from the children's usage, as "load generator".
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = {(0, "load generator"): children.ru_utime + children.ru_stime}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stream:
                stat = stream.read()
        except OSError:
            continue
        command = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        found[(int(name), command)] = (int(fields[11]) + int(fields[12])) / TICKS
    return found, time.monotonic()


def usage(before, after, top=6):
    """[(command, share of one core)] of the busiest commands between two snapshots."""
    (start, started), (end, ended) = before, after
    seconds = max(ended - started, 1e-9)
    by_command = {}
    for key, total in end.items():
        by_command[key[1]] = by_command.get(key[1], 0) + total - start.get(key, 0)
    ranked = sorted(by_command.items(), key=lambda item: -item[1])[:top]
    return [(command, used / seconds) for command, used in ranked if used > 0]


def describe(shares):
    """'nginx 95%, varnishd 40%, ...' (100% is one core)."""
    return ", ".join(f"{command} {share * 100:.0f}%" for command, share in shares)


def machine_times():
    """(busy, total) CPU time of the whole machine so far, in ticks (/proc/stat's first line)."""
    with open("/proc/stat") as stream:
        fields = [int(value) for value in stream.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is counted in user already).
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


def busy_share(before, after):
    """The share (0-1) of all cores' time that was busy between two machine_times()."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else 0.0
