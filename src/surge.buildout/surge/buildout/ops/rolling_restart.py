"""bin/rolling-restart: restart this app server's Zope instances one at a time, with no failed request.

How a new release goes live: build it (the instances keep running the old
code), then run this. Each instance is drained (HAProxy stops sending it
requests), restarted when idle, warmed and put back before the next one
(surge.buildout.ops.draining), so every pool keeps all its other instances.
An instance that does not come back healthy stops the restart there, named,
with exit status 1: the others keep running the release they had.
"""

import argparse
import datetime
import sys
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

from surge.buildout.ops.draining import NotHealthy, port_of, restart_drained


def log(message):
    print(f"{datetime.datetime.now():%H:%M:%S} rolling-restart: {message}", flush=True)


def main(*, socket_path, group, drain_directory, drain_seconds, address, warm_path, health_path, healthy_seconds,
         argv=None):
    parser = argparse.ArgumentParser(prog="bin/rolling-restart", description=__doc__.split("\n\n")[0])
    parser.add_argument("instances", nargs="*", metavar="PORT", type=int,
                        help="only these instances (default: every instance of this server)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rpc = xmlrpc.client.ServerProxy("http://127.0.0.1",
                                    transport=SupervisorTransport(None, None, f"unix://{socket_path}"))
    try:
        processes = [p for p in rpc.supervisor.getAllProcessInfo() if p["group"] == group]
    except OSError as error:
        raise SystemExit(f"rolling-restart: supervisord does not answer on {socket_path}: {error}")
    ports = {port_of(p["name"]): f"{group}:{p['name']}" for p in processes}
    unknown = sorted(set(args.instances) - set(ports))
    if unknown:
        parser.error(f"no instance on port {', '.join(map(str, unknown))}; this server has {sorted(ports)}")
    chosen = args.instances or sorted(ports)
    for done, port in enumerate(chosen):
        try:
            restart_drained(rpc, ports[port], address, port, drain_directory, log, float(drain_seconds),
                            (warm_path,), health_path, float(healthy_seconds))
        except NotHealthy as error:
            left = [ports[other] for other in chosen[done + 1:]]
            log(f"stopped: {error}; not restarted: {', '.join(left) or 'none'}")
            return 1
    log(f"{len(chosen)} instances restarted")
    return 0
