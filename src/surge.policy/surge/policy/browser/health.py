"""@@surge-health: HAProxy's health check of an instance.

Cheap (no page rendering, no catalog) but real: it opens a second database
connection and reads the root, which with RelStorage polls PostgreSQL, so an
instance that cannot reach its database is taken out of its pool.
"""

import logging

from Products.Five.browser import BrowserView

logger = logging.getLogger("surge.policy.health")


class Health(BrowserView):
    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
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
