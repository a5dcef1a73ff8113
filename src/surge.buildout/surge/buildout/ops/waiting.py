"""bin/wait-for TARGET... -- COMMAND: start COMMAND once every TARGET answers.

A TARGET is HOST:PORT (it accepts connections), an http:// URL (it answers
200), or several of those joined by ``|``: one of them answering is enough
(the database's primary is whichever of the database servers' Patroni
answers 200 at /primary).

supervisord starts programs in priority order but does not wait for one to
be ready before starting the next: a Zope instance started before there is a
primary would fail and be retried only a few times. The instances wait for
it instead, printing what they wait for, for at most --timeout seconds (then
they exit and supervisord retries). The command replaces this process
(exec), so supervisord's signals reach it.
"""

import argparse
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def answers(target):
    """True when the one target (HOST:PORT or http URL) answers."""
    if target.startswith("http://"):
        try:
            with urllib.request.urlopen(target, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
            return True
    except OSError:
        return False


def reachable(alternatives):
    """True when one of the targets joined by | answers."""
    return any(answers(target) for target in alternatives.split("|"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("usage: bin/wait-for [--timeout SECONDS] TARGET... -- COMMAND [ARG...]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="bin/wait-for")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("addresses", nargs="+", metavar="TARGET")
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
