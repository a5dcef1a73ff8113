"""A third app server is one top-level file and one [topology] line (docs/adding-a-server.rst): the five
servers built on this machine, each from its own file, and the cross-server checks content."""

import os
import re

import pytest

from conftest import REPO, run
from running import SPARE
from surge.cluster import building, overlay
from surge.cluster.topology import SERVERS, Server

pytestmark = pytest.mark.slow

THIRD = Server("app-3", "prod-app-3.cfg", SPARE, web=False)
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
FIVE = "five.cfg"


def five_servers(root):
    """Every server's build with the [hosts] key and the [topology] line of a third app server."""
    files = " ".join(f"{server.name}=../{server.name}/{FIVE}" for server in (*SERVERS, THIRD))
    for server in (*SERVERS, THIRD):
        with open(os.path.join(root, server.name, FIVE), "w") as stream:
            stream.write(f"[buildout]\nextends = {overlay.OVERLAY}\n\n[hosts]\napp-3 = {SPARE}\n\n"
                         f"[topology]\napp-servers = app-master app-slave app-3\nserver-files = {files}\n")


def build(root, name, config):
    directory = os.path.join(root, name)
    return run([os.path.join(directory, "bin", "buildout"), "-N", "-c", config], cwd=directory).stdout


@pytest.fixture(scope="module")
def built(cluster):
    """The five servers' files, app-3 built, app-master and web-1 rebuilt with it; the four put back after."""
    root, _ = cluster
    versions = building.prepare_root(REPO, root)
    directory, _ = building.write_server_files(REPO, root, THIRD, versions)
    with open(os.path.join(directory, THIRD.config), "w") as stream:
        stream.write(TOP_LEVEL_FILE)
    five_servers(root)
    try:
        building.prepare_server(REPO, root, THIRD, building.python3(), versions)
        outputs = {name: build(root, name, FIVE) for name in ("app-3", "app-master", "web-1")}
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
    assert f"surge  surge  {SPARE}/32" in etc(root, "app-master", "pg_hba.conf")
    wsgi = open(os.path.join(root, "app-3", "parts", "instance", "etc", "wsgi.ini")).read()
    assert f"{SPARE}:11211" in wsgi and "127.0.1.21:11211" in wsgi


def test_the_third_server_runs_instances_haproxy_and_memcached_but_no_database(built):
    root, _ = built
    programs = etc(root, "app-3", "supervisord.conf")
    assert "[program:haproxy]" in programs and "[program:memcached]" in programs
    assert "[program:patroni]" not in programs and "[program:etcd]" not in programs
    assert f"listen = {SPARE}:" in open(os.path.join(root, "app-3", "parts", "instance", "etc", "wsgi.ini")).read()
