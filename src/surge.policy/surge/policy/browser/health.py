"""@@surge-health: HAProxy's health check of an instance.

Cheap (no page rendering, no catalog) but real: it opens a second database
connection and reads the root, which with RelStorage polls PostgreSQL, so an
instance that cannot reach its database is taken out of its pool.

Draining: while a file named after the instance's port exists in the drain
directory (zope.conf's <product-config surge.health> drain-directory), the
check fails on purpose, so HAProxy sends the instance no new requests and it
can be restarted without failing one (bin/memory-watch).
"""

import logging
import os

from App.config import getConfiguration
from Products.Five.browser import BrowserView

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
            connection = self.context._p_jar.db().open()
            try:
                connection.root()
            finally:
                connection.close()
        except Exception as error:  # any failure means: do not send me traffic
            logger.warning("health check failed: %s", error)
            response.setStatus(503)
            return f"database unavailable: {error.__class__.__name__}\n"
        return "ok\n"
