"""bin/memory-watch: restart a Zope instance that grew past its memory limit, drained first.

supervisord runs it as an event listener: on every TICK_60 it reads the
resident memory of each process of the instances' group. One over the limit
is restarted without failing a request:

1. its drain file (DRAIN-DIRECTORY/PORT) makes its health check fail, so
   HAProxy stops sending it requests (two failed checks);
2. after DRAIN-SECONDS (those checks plus the requests it still had), it is
   stopped and started again by supervisord;
3. the drain file goes, the next check puts it back into its pool.

One instance at a time, so the pools never lose more than one.
"""

import datetime
import os
import signal
import sys
import time
import xmlrpc.client

from supervisor import childutils


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


def restart_drained(rpc, process, drain_directory, drain_seconds):
    port = process["name"].rsplit("-", 1)[-1]
    name = f"{process['group']}:{process['name']}"
    drain_file = os.path.join(drain_directory, port)
    os.makedirs(drain_directory, exist_ok=True)
    open(drain_file, "w").close()
    try:
        log(f"{name} drained; restarting it in {drain_seconds:g} s")
        time.sleep(drain_seconds)
        rpc.supervisor.stopProcess(name)
    finally:
        # Also when this listener is stopped meanwhile: never leave an
        # instance drained or stopped.
        os.remove(drain_file)
        try:
            rpc.supervisor.startProcess(name)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise
    log(f"{name} restarted")


def main(group, limit_mb, drain_directory, drain_seconds, argv=None):
    limit, seconds = int(limit_mb), float(drain_seconds)
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
                    if size > limit:
                        log(f"{group}:{process['name']} uses {size} MB")
                        restart_drained(rpc, process, drain_directory, seconds)
        except Exception as error:  # keep watching: a failed restart must not end the watch
            log(f"failed: {error!r}")
        childutils.listener.ok(sys.stdout)
