"""wrk (Debian's package): HTTP load at the web tier's own speed.

Locust, in Python, saturates long before nginx does; wrk, in C, does not, so
the web tier's figures come from it.
"""

import re
import shutil
import subprocess

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def require():
    if not shutil.which("wrk"):
        raise SystemExit("bench: wrk is not installed (apt-get install wrk)")


def milliseconds(text):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * UNITS[unit]


def parse(output):
    """{"rps", "p50", "p99" (ms), "requests", "bytes_per_response", "errors"} of wrk --latency's output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    requests, size, unit = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", output).groups()
    factor = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {"rps": rps, "p50": milliseconds(latency["50"]), "p99": milliseconds(latency["99"]),
            "requests": int(requests), "bytes_per_response": float(size) * factor / max(int(requests), 1),
            "errors": (int(errors.group(1)) if errors else 0), "socket_errors": socket_errors.group(1)
            if socket_errors else ""}


def command(url, seconds, connections, threads=1, headers=()):
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    return [*argv, url]


def run(argv):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{result.stdout}")
    return parse(result.stdout)
