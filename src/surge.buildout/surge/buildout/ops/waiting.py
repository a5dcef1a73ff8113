"""bin/wait-for HOST:PORT... -- COMMAND: start COMMAND once every HOST:PORT accepts connections.

supervisord starts programs in priority order but does not wait for one to
be ready before starting the next: a Zope instance started while PostgreSQL
is still starting would fail and be retried only a few times. The instances
wait for their database and memcached instead, printing what they wait for,
for at most --timeout seconds (then they exit and supervisord retries). The
command replaces this process (exec), so supervisord's signals reach it.
"""

import argparse
import os
import socket
import sys
import time


def reachable(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: bin/wait-for [--timeout SECONDS] HOST:PORT... -- COMMAND [ARG...]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="bin/wait-for")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("addresses", nargs="+", metavar="HOST:PORT")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    if not command:
        parser.error("no command after --")
    deadline = time.monotonic() + args.timeout
    for address in args.addresses:
        if not reachable(address):
            print(f"wait-for: waiting for {address}", flush=True)
        while not reachable(address):
            if time.monotonic() > deadline:
                raise SystemExit(f"wait-for: {address} did not answer within {args.timeout:g} s")
            time.sleep(0.5)
    os.execvp(command[0], command)
