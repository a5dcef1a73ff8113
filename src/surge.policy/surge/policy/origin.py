"""Where a request may come from without nginx's word: a WSGI filter in front of Zope.

nginx sends every request on with ``X-Surge-Admin: 0`` or ``1`` (whether the
client is at an admin address), and the instances decide by it
(surge.policy.admin). A request that did not pass nginx has no such header.
The firewall admits the instances' ports from the app servers only, and the
app servers' own requests carry none (HAProxy's health checks, an operator's
request on the server), so that is where such a request may come from: from
any other peer it is refused here, before Zope reads it, as is a header
holding anything but ``0`` or ``1``. HAProxy refuses its own clients'
requests without the header unless they are app servers
(``buildout.d/templates/haproxy.cfg.j2``).
"""

import ipaddress

ENVIRON_KEY = "HTTP_X_SURGE_ADMIN"
VALUES = ("0", "1")


def peer(environ):
    try:
        address = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
    except ValueError:
        return None
    return address.ipv4_mapped or address if address.version == 6 else address


class Origin:
    def __init__(self, app, app_peers):
        self.app = app
        self.app_peers = frozenset(ipaddress.ip_address(address) for address in app_peers.split())

    def __call__(self, environ, start_response):
        said = environ.get(ENVIRON_KEY)
        if said in VALUES or (said is None and peer(environ) in self.app_peers):
            return self.app(environ, start_response)
        start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
        return [b"the instances answer requests through nginx, or from the app servers\n"]


def filter_factory(global_conf, app_peers):
    """PasteDeploy's filter: ``use = egg:surge.policy#origin``, ``app_peers`` (addresses, space-separated)."""
    return lambda app: Origin(app, app_peers)
