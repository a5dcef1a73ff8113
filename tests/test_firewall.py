"""Each server's host firewall, loaded into a network namespace this test makes
(never into the machine's own ruleset): every service admits its sources and
drops everyone else (every port of every server, its sources read from the server's configuration;
app-master's and web-1's also written out by hand); memcached, which has no password, refuses the app
servers' own local users but the instances'."""

import json
import os
import subprocess
import sys

import pytest

from conftest import bad_setting_fails_and_keeps_live_files
from running import ADDRESS, APP_MASTER, APP_SLAVE, BASE, HAPROXY, HTTP, HTTPS, VARNISH, WEB_1, WEB_2, ZOPE_USER
from surge.buildout import across
from surge.buildout.recipes import validation
from surge.cluster import topology

# Ports of production's base.cfg, which the overlay keeps.
MEMCACHED, RSYSLOG, MUNIN_NODE = 11211, 5514, 4949
POSTGRES = topology.POSTGRES_PORT
PATRONI, ETCD_CLIENT, ETCD_PEER = 8008, 2379, 2380
OUTSIDER = "127.0.0.5"
pytestmark = pytest.mark.slow

# Inside the namespace, before either probe: load the ruleset, listen on every (address, port) the cases name.
SETUP = r"""
import json, os, pwd, socket, subprocess, sys
ruleset, cases = sys.argv[1], json.loads(sys.argv[2])
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["nft", "-f", ruleset], check=True)
listeners = []
for address, port in sorted({(address, port) for address, port, _ in cases}):
    listener = socket.socket()
    listener.bind((address, port))
    listener.listen(16)
    listeners.append(listener)
"""
# Then connect from each case's source address, all at once: a dropped connection waits out the timeout only once.
FROM_SOURCES = SETUP + r"""
import select, time
probes = []
for address, port, source in cases:
    probe = socket.socket()
    probe.setblocking(False)
    probe.bind((source, 0))
    probe.connect_ex((address, port))
    probes.append(probe)
waiting, deadline = set(probes), time.monotonic() + 2
while waiting and time.monotonic() < deadline:
    _, writable, _ = select.select([], list(waiting), [], max(0, deadline - time.monotonic()))
    waiting -= set(writable)
print(json.dumps([probe not in waiting and probe.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                  for probe in probes]))
"""
# ...or as each case's local user.
AS_USERS = SETUP + r"""
results = []
for address, port, user in cases:
    child = os.fork()
    if child == 0:
        entry = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        probe = socket.socket()
        probe.settimeout(1)
        os._exit(probe.connect_ex((address, port)))
    _, status = os.waitpid(child, 0)
    results.append(os.waitstatus_to_exitcode(status) == 0)
print(json.dumps(results))
"""


def connected(root, server, probe, cases):
    """{(address, port, source or user): connected} for CASES, run by PROBE with SERVER's ruleset loaded in a
    network namespace of our own."""
    ruleset = os.path.join(root, server, "etc", "nftables.conf")
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", probe, ruleset, json.dumps(cases)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return dict(zip(map(tuple, cases), json.loads(result.stdout)))


def reachable_by_users(root, server, cases):
    """{(address, port, user): connected} for CASES, as local users."""
    return connected(root, server, AS_USERS, cases)


def reachable(root, server, address, cases):
    """{(port, source): connected} for CASES, to SERVER's ADDRESS."""
    found = connected(root, server, FROM_SOURCES, [[address, port, source] for port, source in cases])
    return {(port, source): result for (_, port, source), result in found.items()}


def test_app_master_admits_each_service_from_its_sources_only(cluster):
    root, _ = cluster
    allowed = [(HAPROXY, WEB_1), (HAPROXY, WEB_2), (HAPROXY, APP_SLAVE), (BASE, APP_SLAVE), (POSTGRES, APP_SLAVE),
               (MEMCACHED, APP_SLAVE), (RSYSLOG, WEB_1), (RSYSLOG, APP_SLAVE), (PATRONI, APP_SLAVE),
               (ETCD_CLIENT, APP_SLAVE), (ETCD_PEER, APP_SLAVE), (ETCD_PEER, WEB_1)]
    refused = [(HAPROXY, OUTSIDER), (BASE, WEB_1), (POSTGRES, WEB_1), (POSTGRES, OUTSIDER), (MEMCACHED, WEB_1),
               (MEMCACHED, OUTSIDER), (RSYSLOG, OUTSIDER), (MUNIN_NODE, OUTSIDER), (BASE, OUTSIDER), (PATRONI, WEB_1),
               (PATRONI, OUTSIDER), (ETCD_CLIENT, WEB_2), (ETCD_PEER, WEB_2), (ETCD_PEER, OUTSIDER)]
    found = reachable(root, "app-master", APP_MASTER, allowed + refused)
    assert [case for case in allowed if not found[case]] == []
    assert [case for case in refused if found[case]] == []


@pytest.mark.parametrize("server", ["app-master", "app-slave"])
def test_memcached_is_for_the_instances_user_alone_among_local_users(cluster, server):
    """memcached's own port, here and on the other app server: the instances' user, memcached's (its Munin
    plugin) and root connect, other local users are refused; the same users reach HAProxy (the control)."""
    root, _ = cluster
    users = {"allowed": [ZOPE_USER, "memcache", "root"], "refused": ["www-data", "postgres", "varnish"]}
    cases = [[address, port, user] for address in (APP_MASTER, APP_SLAVE) for port in (MEMCACHED, HAPROXY)
             for user in users["allowed"] + users["refused"]]
    found = reachable_by_users(root, server, cases)
    assert len(found) == len(cases)
    for (address, port, user), connected in found.items():
        assert connected == (port == HAPROXY or user in users["allowed"]), (address, port, user)


def test_a_web_server_admits_the_public_everywhere_and_purges_from_app_servers_only(cluster):
    root, _ = cluster
    allowed = [(HTTPS, OUTSIDER), (HTTP, OUTSIDER), (VARNISH, APP_MASTER), (VARNISH, APP_SLAVE),
               (ETCD_PEER, APP_MASTER), (ETCD_CLIENT, APP_SLAVE)]
    refused = [(VARNISH, OUTSIDER), (VARNISH, WEB_2), (MUNIN_NODE, OUTSIDER), (ETCD_PEER, WEB_2),
               (ETCD_CLIENT, OUTSIDER)]
    found = reachable(root, "web-1", WEB_1, allowed + refused)
    assert [case for case in allowed if not found[case]] == []
    assert [case for case in refused if found[case]] == []


def cases_from_the_topology(root, server):
    """[(port, source, admitted)] of SERVER from its merged configuration: every port of a [listen] entry on its
    address, from every server of the cluster and an outsider, admitted where an allow line names the source
    (its [topology] keys, or any) and refused elsewhere."""
    config = across.load(os.path.join(root, server, "cluster.cfg"))
    address = ADDRESS[server]
    allowed = {}
    for line in config["firewall"]["allow"].splitlines():
        if line.split():
            key, *sources = line.split()
            allowed[key] = {config["hosts"][host] for source in sources if source != "any"
                            for host in config["topology"][source].split()} | ({"any"} if "any" in sources else set())
    entries, problems = validation.listen_entries(config)
    assert not problems, problems
    sources = sorted(set(ADDRESS.values()) - {address}) + [OUTSIDER]
    return [(port, source, "any" in allowed.get(key, ()) or source in allowed.get(key, ()))
            for key, host, first, last in entries if host == address
            for port in sorted({first, last}) for source in sources]


@pytest.mark.parametrize("server", sorted(ADDRESS))
def test_every_port_of_every_server_admits_the_sources_its_topology_names_and_no_other(cluster, server):
    root, _ = cluster
    cases = cases_from_the_topology(root, server)
    assert any(admitted for _, _, admitted in cases) and not all(admitted for _, _, admitted in cases), cases
    found = reachable(root, server, ADDRESS[server], [(port, source) for port, source, _ in cases])
    wrong = [(port, source, "admitted" if admitted else "refused") for port, source, admitted in cases
             if found[(port, source)] != admitted]
    assert not wrong, f"{server}: these should be {wrong}"


def test_bin_firewall_checks_the_ruleset_without_loading_it(cluster):
    root, _ = cluster
    directory = os.path.join(root, "app-master")
    output = subprocess.run([os.path.join(directory, "bin", "firewall"), "--check"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=True).stdout
    assert "etc/nftables.conf checked" in output


def test_the_machines_own_ruleset_is_untouched(cluster):
    listed = subprocess.run(["nft", "list", "tables"], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert "surge" not in listed


@pytest.mark.parametrize("setting, message", [
    ("firewall:allow=haproxy nowhere",
     "the command line: [firewall] allow: haproxy admits 'nowhere', which is no [topology] key"),
    ("firewall:allow=no-such-service any", "no-such-service is no [listen] key of this server"),
    # A private service opened to everyone, alone or beside its sources.
    ("firewall:allow=memcached any", "memcached any would open a private service to everyone"),
    ("firewall:allow=haproxy web-sources any", "haproxy any would open a private service to everyone"),
    ("firewall:allow=postgres any", "postgres any would open a private service to everyone"),
    ("firewall:allow=patroni app-sources any", "patroni any would open a private service to everyone"),
    ("firewall-settings:ssh-from=everyone", "[firewall-settings] ssh-from = 'everyone'"),
    # Local users of a service: ports and users that exist.
    ("firewall:local-users=memcached nosuchuser", "memcached names the user 'nosuchuser', who does not exist"),
    ("firewall:local-users=memcache nobody", "[firewall] local-users: memcache is no [ports] key"),
    ("firewall:local-users=memcached", "memcached names no user who may connect to it"),
    # sshd on a port a service of the server binds.
    ("firewall-settings:ssh-port=${ports:haproxy}", "is also the port of"),
    ("firewall-settings:ssh-port=${ports:postgres}", "is also the port of"),
])
def test_a_bad_firewall_setting_fails_and_keeps_the_live_files(cluster, setting, message):
    root, _ = cluster
    bad_setting_fails_and_keeps_live_files(os.path.join(root, "app-master"), setting, message)
