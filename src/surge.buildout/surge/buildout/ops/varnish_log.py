"""Varnish's request log, in two programs: every miss, pass and error; hits in full or summed up.

varnishncsa writes one line per request. At tens of thousands of cache hits
a second, writing, forwarding and inserting a line per hit took a third of
the web tier's CPU (bin/bench), while the log views need of hits only their
count per URL, status and hour. So:

bin/varnish-request-log
    varnishncsa for every request that was not a cache hit, one line each
    (``requests_main``; it replaces itself with varnishncsa).
bin/varnish-hit-log
    the cache hits: with ``mode = every`` one line each, as above; with
    ``mode = summary`` one line per URL and status every ``seconds``, with
    their count (``hits_main``)::

        2026-11-30T14:01:00+0000 handling=hit status=200 count=5210 url=/news

The log database counts a summary line as ``count`` hits
(buildout.d/sql/logs.sql). Both write to standard output, which supervisord
keeps in a file that rsyslog forwards in batches.
"""

import os
import select
import signal
import subprocess
import sys
import time

HIT = 'VCL_call eq "HIT"'
# What a summary needs of a hit: status and URL (with its query), space-separated.
SUMMARY_FORMAT = "%s %U%q"


def varnishncsa(binary, name, query, line_format):
    return [binary, "-n", name, "-q", query, "-F", line_format]


def requests_main(*, binary, name, line_format):
    command = varnishncsa(binary, name, f"not {HIT}", line_format)
    os.execvp(command[0], command)


def summary_lines(counts, period_start):
    """The summary lines of COUNTS {(status, url): hits} for the period starting at PERIOD_START."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(period_start))
    return [f"{stamp} handling=hit status={status} count={count} url={url}\n"
            for (status, url), count in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0]))]


def count_lines(counts, lines):
    """Add the hits of LINES ("STATUS URL") to COUNTS."""
    for line in lines:
        status, _, url = line.partition(" ")
        if url:
            counts[(status, url)] = counts.get((status, url), 0) + 1


def summarize(stream, out, seconds, clock=time.time):
    """Read hit lines from the binary STREAM until it ends, writing a summary to OUT every SECONDS."""
    counts, pending = {}, b""
    period_start = clock() // seconds * seconds
    fd = stream.fileno()
    while True:
        remaining = period_start + seconds - clock()
        if remaining <= 0:
            out.writelines(summary_lines(counts, period_start))
            out.flush()
            counts, period_start = {}, clock() // seconds * seconds
            continue
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        *complete, pending = (pending + chunk).split(b"\n")
        count_lines(counts, (line.decode("utf-8", "replace") for line in complete))
    out.writelines(summary_lines(counts, period_start))
    out.flush()


def hits_main(*, binary, name, line_format, mode, seconds="60"):
    if mode == "every":
        command = varnishncsa(binary, name, HIT, line_format)
        os.execvp(command[0], command)
    if mode != "summary":
        raise SystemExit(f"varnish-hit-log: mode {mode!r} is neither every nor summary")
    child = subprocess.Popen(varnishncsa(binary, name, HIT, SUMMARY_FORMAT), stdout=subprocess.PIPE)

    def stop(signum, frame):
        # The counts so far are written when varnishncsa's output ends.
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    summarize(child.stdout, sys.stdout, float(seconds))
    sys.exit(child.wait())
