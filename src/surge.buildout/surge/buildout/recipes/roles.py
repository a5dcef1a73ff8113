"""Recipe surge.buildout:roles: where each role of [topology] answers, for the other parts to read.

The [roles] part of buildout.d/base.cfg. It installs nothing; it publishes,
from surge.buildout.roles:

server
    This server's [hosts] key (its name in [topology]).
database
    libpq's connection parameters that reach the database's primary now,
    whichever database server that is (no database name, user or password).
database-primary
    Every database server's Patroni URL that answers 200 on the primary
    only, joined by ``|``: bin/wait-for waits until one of them does.
memcached
    Every app server's memcached, HOST:PORT separated by spaces.
app-sources
    The addresses the app servers' connections come from ([topology]
    app-sources), separated by spaces.
varnish
    Every web server's Varnish as a URL (Plone's purges), separated by spaces.
etcd
    Every voter's etcd client endpoint, HOST:PORT separated by commas.
log-server, munin-server
    The host of the log server and of the Munin master.

``settings`` names the database clients' settings section
([database-client-settings]).
"""

from surge.buildout import roles


class Roles:
    def __init__(self, buildout, name, options):
        options["server"] = roles.this_server(buildout)
        options["database"] = roles.database_conninfo(buildout, options["settings"])
        options["database-primary"] = "|".join(roles.patroni_urls(buildout, "/primary"))
        options["memcached"] = " ".join(roles.endpoints(buildout, "app-servers", "memcached"))
        options["app-sources"] = " ".join(roles.host(buildout, key) for key in roles.keys(buildout, "app-sources"))
        options["varnish"] = " ".join(f"http://{endpoint}" for endpoint in
                                      roles.endpoints(buildout, "web-servers", "varnish"))
        options["etcd"] = ",".join(roles.endpoints(buildout, "voters", "etcd-client"))
        for role in ("log-server", "munin-server"):
            options[role] = roles.host(buildout, roles.single(buildout, role))

    def install(self):
        return ()

    update = install
