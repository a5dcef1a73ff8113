"""bin/cluster: build, check and run the four production servers on this one machine.

Each server gets its own directory under the cluster root (var/cluster by
default) holding a copy of this repository, as if it were its own machine,
and is built from its unchanged production top-level file plus the loopback
overlay (cluster.cfg); the addresses and ports are in surge.cluster.topology,
the cluster's manifest. This module only parses the command line: the work
is done by surge.cluster.building and surge.cluster.running.
"""

import argparse
import os
import sys
import time

from surge.cluster import building, cgroups, cpus, running
from surge.cluster.topology import SERVERS, default_root, select


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "check", "up", "status", "down", "kill", "freeze", "thaw",
                                            "confine", "share"],
                        help="build: build the servers; check: run every rendered file through its checker; "
                             "up: build what is missing and start the site (or the servers named, such as one "
                             "that was killed); status: every server's programs and the database's members; "
                             "down: stop everything up started; kill: SIGKILL every process of the servers "
                             "named at once, as a power cut; freeze, thaw: stop and resume every process of "
                             "the servers named, as a machine that stalls; confine: the web servers on the first "
                             "half of the CPUs and the app servers on the second, as separate machines (the load "
                             "generator belongs with the web servers: taskset); share: every server on every CPU "
                             "again")
    parser.add_argument("servers", nargs="*", metavar="SERVER",
                        help=f"some of {', '.join(s.name for s in SERVERS)} (default: all)")
    parser.add_argument("--root", help="the cluster's directory (default: var/cluster of this checkout)")
    return parser.parse_intermixed_args(argv)


def main(repository, eggs_directory=None, argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(repository, eggs_directory, args)
    except (running.ClusterError, cgroups.CgroupError, cpus.CpuError) as error:
        raise SystemExit(f"cluster: {error}") from None


def run(repository, eggs_directory, args):
    root = os.path.abspath(args.root or default_root(repository))
    servers = select(args.servers)
    if args.command in ("status", "down", "confine", "share") and args.servers:
        raise SystemExit(f"cluster: {args.command} works on the whole cluster; name no server")
    if args.command in ("kill", "freeze", "thaw") and not args.servers:
        raise SystemExit(f"cluster: {args.command} needs the servers to {args.command}")
    if args.command == "build":
        return building.build(repository, root, servers, eggs_directory)
    if args.command == "check":
        return building.check(root, servers)
    if args.command == "up":
        missing = [s for s in SERVERS if not os.path.exists(os.path.join(root, s.name, ".installed.cfg"))]
        if missing:
            building.build(repository, root, missing, eggs_directory)
        started = time.monotonic()
        running.up(root, [server.name for server in servers])
        running.announce(root, time.monotonic() - started)
        return 0
    if args.command == "status":
        return running.status(root)
    if args.command in ("kill", "freeze", "thaw"):
        for server in servers:
            getattr(running, args.command)(root, server.name)
        return 0
    if args.command in ("confine", "share"):
        placed = cpus.confine(root) if args.command == "confine" else cpus.share(root)
        if not any(threads for _, threads in placed.values()):
            raise SystemExit(f"cluster: no server of {root} is running")
        for name, (chosen, threads) in placed.items():
            print(f"cluster: {name}: CPUs {cpus.shown(chosen)} ({threads} threads)", flush=True)
        return 0
    running.down(root)
    return 0
