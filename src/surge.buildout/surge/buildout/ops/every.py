"""bin/every SECONDS -- COMMAND: run COMMAND now and then every SECONDS, forever.

What cron does, as a supervisord program: it starts and stops with the rest
of the server, and its output goes to the server's logs. A failing run is
reported and the next one still happens; runs never overlap.
"""

import datetime
import subprocess
import sys
import time


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 3 or argv[1] != "--" or not argv[0].replace(".", "", 1).isdigit():
        raise SystemExit("usage: bin/every SECONDS -- COMMAND [ARG...]")
    seconds, command = float(argv[0]), argv[2:]
    while True:
        started = time.monotonic()
        code = subprocess.run(command).returncode
        stamp = f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S}"
        if code:
            print(f"{stamp} every: {command[0]} exited {code}", flush=True)
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
