"""bin/pool-priority PORT PORT=NICE... -- COMMAND: run the instance on PORT at its pool's CPU priority.

supervisord runs all of a server's instances as one program (one process
per port), so the command line is the same for each but the port. The build
gives every port's nice level (surge.buildout.pools: the pool HAProxy routes
to it); this sets the level of PORT and replaces itself with COMMAND (exec),
whose threads inherit it. Levels only go up: the instances run unprivileged.
"""

import os
import sys

USAGE = "usage: bin/pool-priority PORT PORT=NICE... -- COMMAND [ARG...]"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv or argv.index("--") < 1 or argv.index("--") == len(argv) - 1:
        raise SystemExit(USAGE)
    split = argv.index("--")
    port, command = argv[0], argv[split + 1:]
    levels = dict(pair.partition("=")[::2] for pair in argv[1:split])
    if port not in levels or not levels[port].isdigit():
        raise SystemExit(f"pool-priority: no nice level for port {port} in {' '.join(argv[1:split])!r}; {USAGE}")
    os.setpriority(os.PRIO_PROCESS, 0, int(levels[port]))
    os.execvp(command[0], command)
