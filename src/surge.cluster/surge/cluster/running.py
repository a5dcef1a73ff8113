"""Running the cluster's servers on this machine: bin/cluster up, status and
down, and the tests, which start and stop servers through the same functions.

``up`` starts each server's
supervisord in the order production needs (app-master, whose instances
create the database's schema; the site, created once; app-slave; the web
servers), waits until every service answers, polling with a deadline, and
prints the URLs. A server whose supervisord already runs is left alone, so
``up`` on a running cluster changes nothing. ``down`` stops every
supervisord it finds running, in the reverse order, and waits until each
one and its programs are gone. Both take the names of some servers (the
tests run the app tier alone, or one web server).
"""

import http.client
import os
import re
import ssl
import subprocess
import time

from surge.buildout.progress import sayer
from surge.cluster.topology import (
    ADDRESS,
    HAPROXY_STATS_PORT,
    HTTPS_PORT,
    SERVERS,
    ZOPE_USER,
    ca_file,
    site_urls,
)

# The order servers start in (the manifest's); down goes the other way.
START_ORDER = tuple(server.name for server in SERVERS)
DEADLINE = 300


say = sayer("cluster")


class ClusterError(Exception):
    """A server that did not start or answer in time; bin/cluster prints it."""


def supervisorctl(directory, *args):
    result = subprocess.run([os.path.join(directory, "bin", "supervisorctl"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return result.returncode, result.stdout


def supervisord_pid(directory):
    """The PID of the server's supervisord when it runs, else None."""
    try:
        with open(os.path.join(directory, "var", "run", "supervisord.pid")) as stream:
            pid = int(stream.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def states(directory):
    """[(program, state)] of the server's supervisord."""
    _, output = supervisorctl(directory, "status")
    return [tuple(line.split()[:2]) for line in output.splitlines() if len(line.split()) >= 2]


def all_running(directory):
    found = states(directory)
    return bool(found) and all(state == "RUNNING" for _, state in found)


def wait_for(condition, what, deadline=DEADLINE):
    """Poll CONDITION (exceptions count as not yet) until it holds; SystemExit naming WHAT at the deadline."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise ClusterError(f"gave up after {deadline} s waiting for {what}")


def haproxy_stats(address):
    """HAProxy's statistics on ADDRESS: {(proxy, server): row}."""
    connection = http.client.HTTPConnection(address, HAPROXY_STATS_PORT, timeout=10)
    try:
        connection.request("GET", "/;csv")
        lines = connection.getresponse().read().decode().splitlines()
    finally:
        connection.close()
    header = lines[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    return {(row["pxname"], row["svname"]): row for row in rows}


def instances_up(address, prefix=""):
    """True when HAProxy on ADDRESS sees every instance (whose name starts with PREFIX) up."""
    instances = [row for (_, server), row in haproxy_stats(address).items()
                 if re.match(r"app-.*-\d+$", server) and server.startswith(prefix)]
    return bool(instances) and all(row["status"] == "UP" for row in instances)


def front_page(root, address):
    context = ssl.create_default_context(cafile=ca_file(root))
    connection = http.client.HTTPSConnection(address, HTTPS_PORT, context=context, timeout=30)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def start(root, name):
    directory = os.path.join(root, name)
    if supervisord_pid(directory):
        say(f"{name}: already running")
        return False
    result = subprocess.run([os.path.join(directory, "bin", "supervisord")], cwd=directory,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise ClusterError(f"{name}: supervisord did not start: {result.stdout.strip()}")
    say(f"{name}: supervisord started")
    return True


def create_site(root):
    """Run app-master's bin/create-site (as the Zope user when we are root); its output."""
    directory = os.path.join(root, "app-master")
    command = [os.path.join(directory, "bin", "create-site")]
    if os.geteuid() == 0:
        command = ["runuser", "-u", ZOPE_USER, "--", *command]
    result = subprocess.run(command, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise ClusterError(f"create-site failed:\n{result.stdout.strip()}")
    for line in result.stdout.splitlines():
        say(line)
    return result.stdout


def wait_ready(root, name):
    """Wait until server NAME serves: its programs run and it answers where the next server needs it."""
    address = ADDRESS
    directory = os.path.join(root, name)
    wait_for(lambda: all_running(directory), f"every program of {name} to run")
    if name == "app-master":
        # The instances create the database's schema when they first start.
        wait_for(lambda: instances_up(address[name], "app-master-"), "app-master's instances in HAProxy")
    elif name == "app-slave":
        wait_for(lambda: instances_up(address["app-master"]), "every instance in HAProxy")
    else:
        wait_for(lambda: front_page(root, address[name]), f"the front page through {name}")


def up(root, names=START_ORDER):
    """Start the servers NAMES (all by default) in start order; create-site's output when it ran."""
    created = ""
    for name in (name for name in START_ORDER if name in names):
        start(root, name)
        wait_ready(root, name)
        if name == "app-master":
            created = create_site(root)
    return created


def announce(root, seconds):
    """Say where the running site and its admin pages are."""
    say(f"up in {seconds:.0f} s:")
    for url in site_urls():
        say(f"  {url}/  (trust {ca_file(root)})")
    say(f"  HAProxy: http://{ADDRESS['app-master']}:{HAPROXY_STATS_PORT}/   "
        f"graphs: https://{ADDRESS['web-1']}:{HTTPS_PORT}/_surge/munin/")


def status(root):
    stopped = 0
    for name in START_ORDER:
        directory = os.path.join(root, name)
        if not supervisord_pid(directory):
            print(f"{name:11} not running")
            stopped += 1
            continue
        for program, state in states(directory):
            print(f"{name:11} {program:28} {state}")
    return 3 if stopped else 0


def down(root, names=START_ORDER):
    """Stop the servers NAMES (all by default) that run, in reverse start order."""
    for name in (name for name in reversed(START_ORDER) if name in names):
        directory = os.path.join(root, name)
        pid = supervisord_pid(directory)
        if not pid:
            continue
        supervisorctl(directory, "shutdown")
        wait_for(lambda: supervisord_pid(directory) is None, f"{name}'s supervisord to stop", deadline=180)
        say(f"{name}: stopped")
