"""Running the cluster's servers on this machine: bin/cluster up, status, down,
kill, freeze and thaw, and the tests, which start and stop servers through the
same functions.

``up`` starts each server's supervisord in a control group of its own
(surge.cluster.cgroups), then waits, polling with a deadline, until each
serves what its roles promise ([topology] of the build): a database server
until there is a primary, an app server until its HAProxy sees its instances
(the site is created once, by the first app server), a web server until the
front page answers through it. A server whose supervisord already runs is
left alone, so ``up`` on a running cluster changes nothing. ``down`` stops
every supervisord it finds running, in the reverse order, and waits until
every process of its group is gone. ``kill`` cuts a server as a power cut
would (every process, SIGKILL, at once); ``freeze`` and ``thaw`` stop and
resume all of them, as a machine that stalls. All take the names of some
servers (the tests run the app tier alone, or one web server).
"""

import functools
import http.client
import json
import os
import re
import ssl
import subprocess
import time

from surge.buildout.across import load
from surge.buildout.progress import sayer
from surge.cluster import cgroups
from surge.cluster.overlay import OVERLAY
from surge.cluster.topology import (
    ADDRESS,
    HAPROXY_STATS_PORT,
    HTTPS_PORT,
    PATRONI_PORT,
    SERVERS,
    ZOPE_USER,
    ca_file,
    site_urls,
)

# The order servers start in (the manifest's); down goes the other way.
START_ORDER = tuple(server.name for server in SERVERS)
DEADLINE = 300
ROLES = ("web-servers", "app-servers", "database-servers", "voters")


say = sayer("cluster")


class ClusterError(Exception):
    """A server that did not start or answer in time; bin/cluster prints it."""


@functools.lru_cache(maxsize=None)
def settings(root, section):
    """{key: value} of SECTION as the cluster's builds see it (the first server's build)."""
    return dict(load(os.path.join(root, START_ORDER[0], OVERLAY))[section])


def roles(root):
    """{role: (server names)} of [topology], as the cluster's builds see it."""
    topology = settings(root, "topology")
    return {role: tuple(topology[role].split()) for role in ROLES}


def supervisorctl(directory, *args):
    """(exit code, output) of the server's supervisorctl; a supervisord that does not answer (a frozen
    server) is an exit code of 1 after 30 s."""
    try:
        result = subprocess.run([os.path.join(directory, "bin", "supervisorctl"), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return 1, "supervisord does not answer"
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
    """Poll CONDITION (exceptions count as not yet) until it holds; ClusterError naming WHAT at the deadline."""
    limit = time.monotonic() + deadline
    while time.monotonic() < limit:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise ClusterError(f"gave up after {deadline} s waiting for {what}")


def exchange(connection, method, path, headers=None, body=None):
    """(status, headers, body bytes) of one request on CONNECTION, which is closed after."""
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


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


def instances_up(address, prefixes=("",)):
    """True when HAProxy on ADDRESS sees every instance (whose name starts with one of PREFIXES) up."""
    instances = [row for (_, server), row in haproxy_stats(address).items()
                 if re.match(r"app-.*-\d+$", server) and server.startswith(tuple(prefixes))]
    return bool(instances) and all(row["status"] == "UP" for row in instances)


def patroni(name, path):
    """(status, decoded JSON or None) of Patroni's REST API on database server NAME."""
    connection = http.client.HTTPConnection(ADDRESS[name], PATRONI_PORT, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, None


def members(root):
    """Patroni's members as any database server that answers sees them: [{name, role, state, lag...}]."""
    for name in roles(root)["database-servers"]:
        try:
            status, body = patroni(name, "/cluster")
        except OSError:
            continue
        if status == 200 and body:
            return body.get("members", [])
    return []


def primary(root):
    """The database server whose Patroni says it is the running primary now, else None."""
    for name in roles(root)["database-servers"]:
        try:
            if patroni(name, "/primary")[0] == 200:
                return name
        except OSError:
            continue
    return None


def front_page(root, address):
    context = ssl.create_default_context(cafile=ca_file(root))
    connection = http.client.HTTPSConnection(address, HTTPS_PORT, context=context, timeout=30)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def start(root, name):
    """Start server NAME's supervisord in its control group; False when it already ran."""
    directory = os.path.join(root, name)
    if supervisord_pid(directory):
        say(f"{name}: already running")
        return False
    group = cgroups.create(root, name)
    # Every daemon reads its files anew: what bin/apply compares the next build with.
    subprocess.run([os.path.join(directory, "bin", "apply"), "--record"], cwd=directory, check=True,
                   stdout=subprocess.DEVNULL)
    result = subprocess.run([os.path.join(directory, "bin", "supervisord")], cwd=directory,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: cgroups.join(group))
    if result.returncode:
        raise ClusterError(f"{name}: supervisord did not start: {result.stdout.strip()}")
    say(f"{name}: supervisord started")
    return True


def create_site(root, name):
    """Run bin/create-site of app server NAME (as the Zope user when we are root); its output."""
    directory = os.path.join(root, name)
    command = [os.path.join(directory, "bin", "create-site")]
    if os.geteuid() == 0:
        command = ["runuser", "-u", ZOPE_USER, "--", *command]
    result = subprocess.run(command, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise ClusterError(f"create-site failed:\n{result.stdout.strip()}")
    for line in result.stdout.splitlines():
        say(line)
    return result.stdout


def wait_ready(root, names):
    """Wait until every server of NAMES serves its roles; create-site's output when it ran."""
    role = roles(root)
    for name in names:
        wait_for(lambda n=name: all_running(os.path.join(root, n)), f"every program of {name} to run")
    if set(names) & set(role["database-servers"]):
        wait_for(lambda: primary(root), "a primary among the database servers")
        say(f"database: {primary(root)} is the primary")
    app_servers = [name for name in role["app-servers"] if name in names]
    created = ""
    for name in app_servers:
        wait_for(lambda n=name: instances_up(ADDRESS[n], [f"{s}-" for s in app_servers]),
                 f"the instances of {', '.join(app_servers)} in {name}'s HAProxy")
        if not created:
            # The instances created the database's schema when they first started.
            created = create_site(root, name)
    for name in names:
        if name in role["web-servers"]:
            wait_for(lambda n=name: front_page(root, ADDRESS[n]), f"the front page through {name}")
    return created


def up(root, names=START_ORDER):
    """Start the servers NAMES (all by default) in start order; create-site's output when it ran."""
    names = [name for name in START_ORDER if name in names]
    for name in names:
        start(root, name)
    return wait_ready(root, names)


def announce(root, seconds):
    """Say where the running site and its admin pages are."""
    say(f"up in {seconds:.0f} s:")
    for url in site_urls():
        say(f"  {url}/  (trust {ca_file(root)})")
    first = roles(root)["app-servers"][0]
    say(f"  HAProxy: http://{ADDRESS[first]}:{HAPROXY_STATS_PORT}/   "
        f"graphs: https://{ADDRESS['web-1']}:{HTTPS_PORT}/_surge/munin/")


def database_line(root):
    """'database: app-master leader running (timeline 2); app-slave sync_standby running (timeline 2, lag 0.0 MB)'."""
    found = members(root)
    if not found:
        return "database: no database server answers"
    parts = []
    for member in found:
        lag = member.get("lag")
        lag = f", lag {lag / 1048576:.1f} MB" if isinstance(lag, (int, float)) else ""
        parts.append(f"{member['name']} {member.get('role', '?')} {member.get('state', '?')}"
                     f" (timeline {member.get('timeline', '?')}{lag})")
    return "database: " + "; ".join(parts)


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
    print(database_line(root))
    return 3 if stopped else 0


def gone(root, name):
    return supervisord_pid(os.path.join(root, name)) is None and not cgroups.pids(cgroups.group(root, name))


def down(root, names=START_ORDER):
    """Stop the servers NAMES (all by default) that run, in reverse start order."""
    for name in (name for name in reversed(START_ORDER) if name in names):
        directory = os.path.join(root, name)
        if supervisord_pid(directory):
            supervisorctl(directory, "shutdown")
        if not gone(root, name):
            wait_for(lambda n=name: gone(root, n), f"every process of {name} to stop", deadline=180)
            say(f"{name}: stopped")
        cgroups.remove(cgroups.group(root, name))


def kill(root, name):
    """Every process of server NAME killed at once (SIGKILL), as a power cut."""
    killed = cgroups.kill(cgroups.group(root, name))
    say(f"{name}: {killed} processes killed")
    return killed


def freeze(root, name):
    """Every process of server NAME stopped where it is, as a machine that stalls."""
    cgroups.freeze(cgroups.group(root, name))
    say(f"{name}: frozen")


def thaw(root, name):
    cgroups.thaw(cgroups.group(root, name))
    say(f"{name}: thawed")
