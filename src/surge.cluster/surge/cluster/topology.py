"""The manifest of the one-machine cluster: every fact about it, named once.

The overlay (overlay.py) writes these values into each server's cluster.cfg,
so the builds use them; bin/cluster, bin/bench, bin/loadtest and the tests
read them from here, never from a generated file.
"""

import os
from dataclasses import dataclass

# nginx's public ports on the loopback addresses (443 and 80 need no root here).
HTTPS_PORT = 8443
HTTP_PORT = 8080
# HAProxy's frontend, its statistics page and the first Zope instance of each app server.
HAPROXY_PORT = 8200
HAPROXY_STATS_PORT = 8202
INSTANCE_BASE_PORT = 8101
# PostgreSQL and Patroni's REST API on each database server.
POSTGRES_PORT = 5432
PATRONI_PORT = 8008
# The user the instances run as here (it exists on every Debian machine).
ZOPE_USER = "nobody"
# The Plone site's id in the Zope root.
SITE_ID = "Plone"


@dataclass(frozen=True)
class Server:
    name: str
    config: str
    address: str
    web: bool


# In start order (app-master's instances create the database's schema, then
# the site is created); down goes the other way. Which server plays which role
# is the build's [topology] (surge.cluster.running.roles), not this list.
SERVERS = (
    Server("app-master", "prod-app-master.cfg", "127.0.1.21", web=False),
    Server("app-slave", "prod-app-slave.cfg", "127.0.1.22", web=False),
    Server("web-1", "prod-web-1.cfg", "127.0.1.11", web=True),
    Server("web-2", "prod-web-2.cfg", "127.0.1.12", web=True),
)
ADDRESS = {server.name: server.address for server in SERVERS}
# Free on this machine for more servers (the tests' third app server and third web server).
SPARE_ADDRESS = "127.0.1.23"
SPARE_WEB_ADDRESS = "127.0.1.13"
WEB_SERVERS = tuple(server for server in SERVERS if server.web)
APP_SERVERS = tuple(server for server in SERVERS if not server.web)
# The site's public name: web-1's address, as production has one name for both web servers.
PUBLIC_ADDRESS = ADDRESS["web-1"]
# The path prefix nginx gives every request for Zope's virtual host monster.
VIRTUAL_HOST_PREFIX = f"/VirtualHostBase/https/{PUBLIC_ADDRESS}:{HTTPS_PORT}/{SITE_ID}/VirtualHostRoot"


def default_root(repository):
    """Where bin/cluster builds the servers unless told otherwise."""
    return os.path.join(repository, "var", "cluster")


def ca_file(root):
    """The cluster's certificate authority, which its web servers' certificates chain to."""
    return os.path.join(root, "tls", "ca.crt")


def secrets_file(root):
    return os.path.join(root, "secrets.cfg")


def site_urls():
    """The site through each web server."""
    return [f"https://{server.address}:{HTTPS_PORT}" for server in WEB_SERVERS]


def select(names):
    """The servers named (all when none is), or SystemExit naming the unknown."""
    if not names:
        return list(SERVERS)
    known = {server.name: server for server in SERVERS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"cluster: no server {', '.join(unknown)}; the servers are {', '.join(known)}")
    return [known[name] for name in names]
