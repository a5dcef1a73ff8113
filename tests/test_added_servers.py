"""A third app server from one top-level file and one ``[topology]`` line: it builds, every HAProxy routes to its
instances, Varnish uses its HAProxy and admits its purges, ``pg_hba.conf`` admits it, the instances share its
memcached, and it runs no database or voter; a third web server the same way: the app servers' Plone purges
its Varnish, their firewalls admit it to HAProxy, Munin graphs it, its Varnish uses every HAProxy, and it is
no voter.
"""

import os
import re

import pytest

from conftest import REPO, run
from running import SPARE, SPARE_WEB
from surge.cluster import building, overlay
from surge.cluster.topology import SERVERS, Server

pytestmark = pytest.mark.slow

THIRD = Server("app-3", "prod-app-3.cfg", SPARE, web=False)
THIRD_WEB = Server("web-3", "prod-web-3.cfg", SPARE_WEB, web=True)
ADDED = (THIRD, THIRD_WEB)
# The one top-level file an operator adds: an app server that is no database server and no voter.
TOP_LEVEL_FILE = """\
# Application server 3: more Zope instances, HAProxy and memcached.
[buildout]
extends =
    buildout.d/base.cfg
    packages.cfg
    buildout.d/prod-base.cfg
    buildout.d/firewall.cfg
    buildout.d/supervisor.cfg
    buildout.d/remote.cfg
    buildout.d/rsyslog.cfg
    buildout.d/munin-node.cfg
    buildout.d/memcached.cfg
    buildout.d/postgres-relstorage.cfg
    buildout.d/prod-beaker.cfg
    buildout.d/prod-instance.cfg
    buildout.d/prod-haproxy.cfg

[hosts]
server = ${hosts:app-3}
"""
# The one top-level file an operator adds for a third web server: web-2's, which is no voter.
TOP_LEVEL_WEB_FILE = open(os.path.join(REPO, "prod-web-2.cfg")).read().replace("${hosts:web-2}", "${hosts:web-3}")
GROWN = "grown.cfg"


def grown(root):
    """Every server's build with the [hosts] keys and the [topology] lines of a third app and web server."""
    files = " ".join(f"{server.name}=../{server.name}/{GROWN}" for server in (*SERVERS, *ADDED))
    for server in (*SERVERS, *ADDED):
        with open(os.path.join(root, server.name, GROWN), "w") as stream:
            stream.write(f"[buildout]\nextends = {overlay.OVERLAY}\n\n[hosts]\napp-3 = {SPARE}\n"
                         f"web-3 = {SPARE_WEB}\n\n[topology]\napp-servers = app-master app-slave app-3\n"
                         f"web-servers = web-1 web-2 web-3\nserver-files = {files}\n")


def build(root, name, config):
    directory = os.path.join(root, name)
    return run([os.path.join(directory, "bin", "buildout"), "-N", "-c", config], cwd=directory).stdout


@pytest.fixture(scope="module")
def built(cluster):
    """The six servers' files, app-3 and web-3 built, app-master and web-1 rebuilt with them; the four put
    back after."""
    root, _ = cluster
    versions = building.prepare_root(REPO, root)
    for server, text in ((THIRD, TOP_LEVEL_FILE), (THIRD_WEB, TOP_LEVEL_WEB_FILE)):
        directory, _ = building.write_server_files(REPO, root, server, versions)
        with open(os.path.join(directory, server.config), "w") as stream:
            stream.write(text)
    grown(root)
    try:
        for server in ADDED:
            building.prepare_server(REPO, root, server, building.python3(), versions)
        outputs = {name: build(root, name, GROWN) for name in ("app-3", "web-3", "app-master", "web-1")}
        yield root, outputs
    finally:
        for name in ("app-master", "web-1"):
            build(root, name, overlay.OVERLAY)


def etc(root, name, file):
    with open(os.path.join(root, name, "etc", file)) as stream:
        return stream.read()


@pytest.mark.parametrize("name", ["app-master", "app-3"])
def test_every_haproxy_routes_to_the_third_servers_instances(built, name):
    root, _ = built
    servers = re.findall(r"^\s*server (app-\S+) (\S+):(\d+) check maxconn", etc(root, name, "haproxy.cfg"), re.M)
    assert sorted(address for _, address, _ in servers if address == SPARE) == [SPARE, SPARE]
    assert len(servers) == 6


def test_the_web_servers_varnish_uses_its_haproxy_and_takes_its_purges(built):
    root, _ = built
    vcl = etc(root, "web-1", "varnish.vcl")
    assert re.findall(r"^backend (\w+)", vcl, re.M) == ["haproxy_app_master", "haproxy_app_slave", "haproxy_app_3"]
    assert f'"{SPARE}";' in vcl


def test_the_database_admits_its_instances_and_its_cache_is_shared(built):
    root, _ = built
    assert f"surge  +surge  {SPARE}/32" in etc(root, "app-master", "pg_hba.conf")
    wsgi = open(os.path.join(root, "app-3", "parts", "instance", "etc", "wsgi.ini")).read()
    assert f"{SPARE}:11211" in wsgi and "127.0.1.21:11211" in wsgi


def test_the_third_server_runs_instances_haproxy_and_memcached_but_no_database(built):
    root, _ = built
    programs = etc(root, "app-3", "supervisord.conf")
    assert "[program:haproxy]" in programs and "[program:memcached]" in programs
    assert "[program:patroni]" not in programs and "[program:etcd]" not in programs
    assert f"listen = {SPARE}:" in open(os.path.join(root, "app-3", "parts", "instance", "etc", "wsgi.ini")).read()


def test_the_third_web_server_is_purged_admitted_graphed_and_heard(built):
    root, _ = built
    create_site = open(os.path.join(root, "app-master", "bin", "create-site")).read()
    assert f"http://{SPARE_WEB}:" in create_site, "the app servers' Plone purges its Varnish"
    firewall = etc(root, "app-master", "nftables.conf")
    haproxy_port = re.search(r"^\s*bind (\S+):(\d+)", etc(root, "app-master", "haproxy.cfg"), re.M)[2]
    assert re.search(rf"tcp dport {haproxy_port} ip saddr {{[^}}]*{re.escape(SPARE_WEB)}/32", firewall)
    assert f"address {SPARE_WEB}" in etc(root, "app-master", os.path.join("munin", "munin.conf"))


def test_the_third_web_servers_varnish_uses_every_haproxy_and_it_is_no_voter(built):
    root, _ = built
    vcl = etc(root, "web-3", "varnish.vcl")
    assert re.findall(r"^backend (\w+)", vcl, re.M) == ["haproxy_app_master", "haproxy_app_slave", "haproxy_app_3"]
    programs = etc(root, "web-3", "supervisord.conf")
    assert "[program:nginx]" in programs and "[program:varnish]" in programs and "[program:etcd]" not in programs
