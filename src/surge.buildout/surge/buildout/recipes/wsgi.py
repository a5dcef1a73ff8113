"""Recipe surge.buildout:wsgi: the instances' wsgi.ini template with Beaker.

A surge.buildout:template (``settings = beaker-settings``) for
plone.recipe.zope2instance's ``wsgi-ini-template``. In production,
``threads-from`` names the instances' settings section and ``instances``
their [listen] entry: Zope's WSGI server gets the request threads and the
spare ones (HAProxy counts the request threads, its maxconn; the spare ones
answer its health checks, which maxconn does not count) and listens on that
entry's host, each process on the port supervisord gives it; HAProxy's
health check (surge.policy.health) answers the section's ``health-path`` in
front of Zope, failing while the port's file is in its ``drain-directory``;
and surge.policy.origin refuses a request without nginx's header unless it
comes from one of ``app-peers`` (addresses).
Without them, plone.recipe.zope2instance's own ``threads`` and
``http-address`` stay, and there is no health check (development).

``session-url`` lists the memcached servers (HOST:PORT separated by white
space); Beaker takes them separated by ``;`` and spreads the sessions over
them by key.

Derived for the template: ``threads``, ``listen``, ``session_url``,
``health_path``, ``drain_directory`` and ``app_peers`` (empty in development).
"""

from surge.buildout.network import split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import SECONDS, Boolean, Choice, Schema, Setting

SETTINGS = Schema("beaker-settings", {
    "type": Setting(Choice(("ext:memcached", "file"))),
    "secure": Setting(Boolean()),
    "timeout": Setting(SECONDS),
})


class Wsgi(Template):
    schema = SETTINGS

    def derive(self):
        session_url = ";".join(self.options.get("session-url", "").split())
        section = self.options.get("threads-from", "").strip()
        if not section:
            return {"threads": "%(threads)s", "listen": "%(http_address)s", "session_url": session_url,
                    "health_path": "", "drain_directory": "", "app_peers": ""}
        instances = self.buildout[section]
        host, _ = split_bind(self.options["instances"].partition("+")[0])
        return {"threads": str(int(instances["threads"]) + int(instances["spare-threads"])),
                # "%%": plone.recipe.zope2instance fills the template with "%"; runwsgi's
                # http_port=N fills what is left.
                "listen": f"{host}:%%(http_port)s", "session_url": session_url,
                "health_path": instances["health-path"], "drain_directory": instances["drain-directory"],
                "app_peers": " ".join(self.options["app-peers"].split())}
