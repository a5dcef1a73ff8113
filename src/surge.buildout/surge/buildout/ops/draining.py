"""Restarting a Zope instance without failing a request, on any app server.

The drain file DRAIN-DIRECTORY/PORT makes the instance's health check answer
503, so HAProxy (on app-master) stops sending it requests after two failed
checks; no runtime API is needed, which app-slave could not reach anyway
(HAProxy's socket is local to app-master). Then:

1. wait until the instance has no open connection from HAProxy (read from
   /proc/net/tcp: local and exact) and at least the checks' time has passed;
2. stop and start it through supervisord;
3. warm it with a few requests straight to it, until it answers;
4. remove the drain file and wait until its health check answers 200, which
   is what HAProxy's checks ask, then give HAProxy's next check the time to
   put it back into its pool.

An instance that does not start, or is not healthy within HEALTHY-SECONDS,
raises NotHealthy naming it: the caller stops there, so a bad release never
takes a second instance down (bin/rolling-restart exits, bin/memory-watch
restarts nothing while one of its instances is not healthy).

bin/memory-watch and bin/rolling-restart both use it.
"""

import http.client
import os
import socket
import time
import xmlrpc.client

# HAProxy's health checks: two failures, two seconds apart, take an instance out.
CHECKS_SECONDS = 5


class NotHealthy(Exception):
    """A restarted instance that did not start or become healthy in time; the message names it."""


def port_of(process_name):
    """An instance's port: supervisord names its processes instance-PORT."""
    return int(process_name.rsplit("-", 1)[-1])


def established(address, port):
    """Open TCP connections to ADDRESS:PORT on this machine, from /proc/net/tcp."""
    wanted = f"{socket.inet_aton(address)[::-1].hex().upper()}:{port:04X}"
    count = 0
    with open("/proc/net/tcp") as stream:
        for line in stream.readlines()[1:]:
            fields = line.split()
            # State 01 is ESTABLISHED.
            if fields[1] == wanted and fields[3] == "01":
                count += 1
    return count


def status_of(address, port, path, timeout=10):
    """The HTTP status of GET PATH on ADDRESS:PORT; None when nothing answers."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def answers(address, port, path):
    status = status_of(address, port, path)
    return status is not None and status < 500


def wait_healthy(address, port, health_path, seconds):
    """The health check's last status: 200 unless it did not come within SECONDS."""
    deadline = time.monotonic() + seconds
    while (status := status_of(address, port, health_path)) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    return status


def restart_drained(rpc, name, address, port, drain_directory, log, drain_seconds, warm_paths, health_path,
                    healthy_seconds):
    """Drain, restart, warm and see healthy the supervisord process NAME listening on ADDRESS:PORT."""
    drain_file = os.path.join(drain_directory, str(port))
    os.makedirs(drain_directory, exist_ok=True)
    open(drain_file, "w").close()
    try:
        log(f"{name} drained")
        started = time.monotonic()
        time.sleep(CHECKS_SECONDS)
        while established(address, port) and time.monotonic() - started < drain_seconds:
            time.sleep(0.5)
        log(f"{name} idle after {time.monotonic() - started:.1f} s; restarting")
        rpc.supervisor.stopProcess(name)
    finally:
        # Also when interrupted: never leave an instance stopped.
        try:
            rpc.supervisor.startProcess(name)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                os.remove(drain_file)
                raise NotHealthy(f"{name} did not start: {fault.faultString}") from None
        try:
            deadline = time.monotonic() + healthy_seconds
            for path in warm_paths:
                while not answers(address, port, path) and time.monotonic() < deadline:
                    time.sleep(0.5)
        finally:
            os.remove(drain_file)
    status = wait_healthy(address, port, health_path, healthy_seconds)
    if status != 200:
        raise NotHealthy(f"{name} is not healthy {healthy_seconds:.0f} s after its restart: {health_path} "
                         f"answers {status or 'nothing'}")
    # HAProxy's next check puts it back before anything else is drained.
    time.sleep(CHECKS_SECONDS)
    log(f"{name} restarted, warmed and back")
