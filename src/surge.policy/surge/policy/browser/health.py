"""@@surge-health: HAProxy's health check of an instance.

Cheap (no page rendering, no catalog, no database connection of its own) but
real: the publisher opens the request's connection, and RelStorage polls
PostgreSQL for changes when it does, so a lost database fails the check
before the view runs; the view then reads the root through that same
connection. An instance that cannot reach its database leaves its pool.
HAProxy checks every instance every few seconds: a second connection per
check would cost a pooled connection and a poll each time.

Draining: while a file named after the instance's port exists in the drain
directory (zope.conf's <product-config surge.health> drain-directory), the
check fails on purpose, so HAProxy sends the instance no new requests and it
can be restarted without failing one (bin/memory-watch).
"""

import logging
import os

from App.config import getConfiguration
from Products.Five.browser import BrowserView
from ZODB.utils import z64

logger = logging.getLogger("surge.policy.health")


def drained(request):
    """True while this instance's drain file exists."""
    config = (getattr(getConfiguration(), "product_config", None) or {}).get("surge.health") or {}
    directory, port = config.get("drain-directory"), request.environ.get("SERVER_PORT")
    return bool(directory and port and os.path.exists(os.path.join(directory, str(port))))


class Health(BrowserView):
    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
        if drained(self.request):
            response.setStatus(503)
            return "draining\n"
        try:
            self.context._p_jar.get(z64)  # the root object
        except Exception as error:  # any failure means: do not send me traffic
            logger.warning("health check failed: %s", error)
            response.setStatus(503)
            return f"database unavailable: {error.__class__.__name__}\n"
        return "ok\n"
