"""bin/memory-watch: restart a Zope instance that grew past its memory limit, drained first.

supervisord runs it as an event listener: on every TICK event it reads the
resident memory of each process of the instances' group, and restarts one
over the limit without failing a request (surge.buildout.ops.draining: drain,
wait until idle, restart, warm, healthy, back). One instance at a time, so the
pools never lose more than one, and none while an instance of the group is not
running or not healthy: a release that cannot start is not spread further.
"""

import datetime
import os
import signal
import sys

from supervisor import childutils

from surge.buildout.ops.draining import NotHealthy, port_of, restart_drained, status_of


def resident_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def log(message):
    # Standard output is supervisord's protocol; the log is standard error.
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S} memory-watch: {message}", file=sys.stderr, flush=True)


def sick(rpc, group, address, health_path):
    """The first instance of GROUP that is not running or not healthy, or None."""
    for process in rpc.supervisor.getAllProcessInfo():
        if process["group"] != group:
            continue
        name = f"{group}:{process['name']}"
        if process["statename"] != "RUNNING":
            return f"{name} is {process['statename']}"
        if status_of(address, port_of(process["name"]), health_path) != 200:
            return f"{name} is not healthy"
    return None


def main(*, group, limit_mb, drain_directory, drain_seconds, address, warm_path, health_path, healthy_seconds,
         argv=None):
    limit = int(limit_mb)
    # supervisord stops listeners with SIGTERM: end through the finally clauses.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    rpc = childutils.getRPCInterface(os.environ)
    log(f"watching {group}: restart above {limit} MB resident")
    while True:
        headers, _ = childutils.listener.wait(sys.stdin, sys.stdout)
        try:
            if headers["eventname"].startswith("TICK"):
                for process in rpc.supervisor.getAllProcessInfo():
                    if process["group"] != group or process["statename"] != "RUNNING":
                        continue
                    size = resident_mb(process["pid"])
                    if size <= limit:
                        continue
                    log(f"{group}:{process['name']} uses {size} MB")
                    # Never a second instance down while one is sick: a bad release would take them all.
                    problem = sick(rpc, group, address, health_path)
                    if problem:
                        log(f"not restarting it: {problem}")
                        break
                    restart_drained(rpc, f"{group}:{process['name']}", address, port_of(process["name"]),
                                    drain_directory, log, float(drain_seconds), (warm_path,), health_path,
                                    float(healthy_seconds))
        except NotHealthy as error:
            log(f"stopped restarting: {error}")
        except Exception as error:  # keep watching: a failed restart must not end the watch
            log(f"failed: {error!r}")
        childutils.listener.ok(sys.stdout)
