"""bin/database: the database servers' roles and lag, and a planned switchover (Patroni's patronictl).

    bin/database status                  every member: role (Leader, Sync Standby, Replica), state, timeline, lag
    bin/database switchover [--to NAME]  move the primary to NAME (the other database server by default)

Run it on any database server as root or as the database's user: it reads
etc/patroni.yml, which holds the REST API's password. A switchover waits
for the chosen replica to be in sync and fails, changing nothing, when none
is.
"""

import argparse
import os
import pwd
import subprocess
import sys


def parse(argv):
    parser = argparse.ArgumentParser(prog="bin/database", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("status", help="every member's role, state and lag")
    switchover = commands.add_parser("switchover", help="move the primary to another database server")
    switchover.add_argument("--to", metavar="NAME", help="the database server to promote ([hosts] key)")
    return parser.parse_args(argv)


def main(patronictl, config, user, argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != user:
        raise SystemExit(f"database: run me as root or as {user}: {config} holds the REST API's password")
    command = [patronictl, "-c", config]
    if args.command == "status":
        command.append("list")
    else:
        command += ["switchover", "--force"] + (["--candidate", args.to] if args.to else [])
    return subprocess.run(command).returncode
