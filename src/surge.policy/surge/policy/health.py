"""HAProxy's health check of an instance: a WSGI filter in front of Zope.

``GET PATH`` (``[instance-settings] health-path``) is answered here, before
Zope's publisher, which opens the database for every request and, while the
database switches primary, holds a request for as long as
``database_retry.PATIENCE`` (the request is retried): a view would never
answer then, and HAProxy would take every instance out at once.

- While a file named after the instance's port is in the drain directory, the
  check fails on purpose (503), so HAProxy sends it nothing new and it can be
  restarted without failing a request (bin/memory-watch, bin/rolling-restart).
- Otherwise the root object is read through a connection from the instance's
  own ZODB pool (RelStorage polls PostgreSQL as it opens; no connection of
  its own): 200.
- The database out of reach: 200 while the outage is younger than the
  patience, because requests sent here wait for the database and are
  retried (a failover takes about 20 s); 503 once it is older, so an
  instance that cannot reach a database the others reach leaves its pool.
"""

import logging
import os

import transaction
from ZODB.utils import z64

from surge.policy import database_retry

logger = logging.getLogger("surge.policy.health")


def zope_database():
    """The database Zope opened at start (read per request: the filter is made before)."""
    import Zope2

    return Zope2.DB


class HealthCheck:
    def __init__(self, app, path, drain_directory="", database=zope_database, outage=database_retry.OUTAGE):
        self.app, self.path, self.drain_directory = app, path, drain_directory
        self.database, self.outage = database, outage

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        status, text = self.check(environ.get("SERVER_PORT", ""))
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")])
        return [text.encode()]

    def drained(self, port):
        return bool(self.drain_directory and port and os.path.exists(os.path.join(self.drain_directory, port)))

    def check(self, port):
        """(status line, body)."""
        if self.drained(port):
            return "503 Service Unavailable", "draining\n"
        try:
            # A transaction manager of its own: the thread's is the publisher's.
            connection = self.database().open(transaction_manager=transaction.TransactionManager())
            try:
                connection.get(z64)
            finally:
                connection.close()
        except Exception as error:  # any failure means: do not send me traffic (unless it is a young outage)
            name = type(error).__name__
            if database_retry.switching(error) and self.outage.young():
                return "200 OK", f"waiting for the database ({name}), requests are retried\n"
            logger.warning("health check failed: %s", error)
            return "503 Service Unavailable", f"database unavailable: {name}\n"
        self.outage.over()
        return "200 OK", "ok\n"


def filter_factory(global_conf, path, drain_directory=""):
    """PasteDeploy's filter: ``use = egg:surge.policy#health``, ``path``, ``drain_directory``."""
    return lambda app: HealthCheck(app, path, drain_directory)
