"""bin/munin-plugin: Munin plugins for what Munin's own plugins do not cover.

munin-node runs a plugin by the name of its link in the node's plugin
folder; this one script answers for five names (Munin's plugin protocol:
``config`` prints the graph, no argument prints the values):

surge_haproxy
    Requests queued and being served per HAProxy pool (env.stats: the
    statistics page's CSV URL).
surge_memcached
    memcached's hits, misses, items and connections (env.address: HOST:PORT).
surge_varnish
    Varnish's requests, hits, misses, passes and backend requests
    (env.name: varnishd's -n folder). Debian's varnish_ plugin reads
    counter names Varnish 7 no longer has and draws nothing.
surge_zope_memory, surge_zope_threads
    Memory (resident) and threads of each Zope instance process of this
    server (env.pattern: a string in the instances' command lines).
"""

import json
import os
import socket
import subprocess
import sys
import urllib.request

VARNISH_COUNTERS = {"client_req": "requests", "cache_hit": "hits", "cache_miss": "misses", "s_pass": "passes",
                    "backend_req": "backend requests"}


def haproxy(configure):
    with urllib.request.urlopen(os.environ["stats"], timeout=10) as response:
        lines = response.read().decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    pools = [row for row in (dict(zip(header, line.split(","))) for line in lines[1:] if line)
             if row["svname"] == "BACKEND" and row["pxname"] != "stats"]
    if configure:
        print("graph_title HAProxy pools: requests served and queued\ngraph_category haproxy\n"
              "graph_vlabel requests")
        for row in pools:
            name = row["pxname"]
            print(f"{name}_current.label {name} served\n{name}_queued.label {name} queued")
        return
    for row in pools:
        print(f"{row['pxname']}_current.value {row['scur'] or 0}\n{row['pxname']}_queued.value {row['qcur'] or 0}")


def memcached(configure):
    if configure:
        print("graph_title memcached\ngraph_category memcached\ngraph_vlabel per ${graph_period} / count\n"
              "get_hits.label hits\nget_hits.type DERIVE\nget_hits.min 0\n"
              "get_misses.label misses\nget_misses.type DERIVE\nget_misses.min 0\n"
              "curr_items.label items\ncurr_connections.label connections")
        return
    host, _, port = os.environ["address"].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
    stats = dict(line.split()[1:3] for line in data.decode().splitlines() if line.startswith("STAT "))
    for key in ("get_hits", "get_misses", "curr_items", "curr_connections"):
        print(f"{key}.value {stats.get(key, 'U')}")


def varnish(configure):
    if configure:
        print("graph_title Varnish: requests, hits, misses, passes\ngraph_category varnish\n"
              "graph_vlabel per ${graph_period}")
        for key, label in VARNISH_COUNTERS.items():
            print(f"{key}.label {label}\n{key}.type DERIVE\n{key}.min 0")
        return
    command = [os.environ.get("varnishstat", "varnishstat"), "-n", os.environ["name"], "-j"]
    command += [argument for key in VARNISH_COUNTERS for argument in ("-f", f"MAIN.{key}")]
    counters = json.loads(subprocess.run(command, stdout=subprocess.PIPE, check=True, timeout=20).stdout)
    counters = counters.get("counters", counters)
    for key in VARNISH_COUNTERS:
        print(f"{key}.value {counters.get(f'MAIN.{key}', {}).get('value', 'U')}")


def zope_processes(pattern):
    """{port: (resident bytes, threads)} of the processes whose command line holds PATTERN and http_port=N."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                words = stream.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/status") as stream:
                status = dict(line.split(":", 1) for line in stream if ":" in line)
        except OSError:
            continue
        ports = [word.split("=", 1)[1] for word in words if word.startswith("http_port=")]
        if ports and any(pattern in word for word in words):
            found[ports[0]] = (int(status["VmRSS"].split()[0]) * 1024, int(status["Threads"]))
    return found


def zope(what, configure):
    processes = zope_processes(os.environ.get("pattern", "runwsgi"))
    if configure:
        if what == "memory":
            print("graph_title Zope instances: memory\ngraph_category zope\ngraph_vlabel bytes resident\n"
                  "graph_args --base 1024 -l 0")
        else:
            print("graph_title Zope instances: threads\ngraph_category zope\ngraph_vlabel threads")
        for port in sorted(processes):
            print(f"{what}_{port}.label instance {port}")
        return
    for port, (memory, threads) in sorted(processes.items()):
        print(f"{what}_{port}.value {memory if what == 'memory' else threads}")


PLUGINS = {
    "surge_haproxy": haproxy,
    "surge_memcached": memcached,
    "surge_varnish": varnish,
    "surge_zope_memory": lambda configure: zope("memory", configure),
    "surge_zope_threads": lambda configure: zope("threads", configure),
}


def main(argv=None):
    argv = sys.argv if argv is None else argv
    name = os.path.basename(argv[0])
    if name not in PLUGINS:
        raise SystemExit(f"munin-plugin: link me as one of {', '.join(sorted(PLUGINS))}")
    PLUGINS[name](configure=argv[1:2] == ["config"])
    return 0
