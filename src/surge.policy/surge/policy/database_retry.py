"""A request that meets a database failover is retried, not shown as an error.

While the database's primary moves (a failover, a planned switchover), an
instance's connection to the old primary breaks and a new one finds no
primary for a few seconds. RelStorage reconnects once by itself; when that
fails it raises psycopg2's OperationalError, and Zope shows the visitor an
error page. Zope's publisher already retries a request that failed with a
``TransientError`` (a ZODB conflict is one): it aborts the transaction,
waits a random while that doubles with each try, and publishes the request
again, body included. Nothing was written by the failed try (ZODB writes at
commit, and RelStorage marks a connection lost during commit as transient
itself), so a failed connection is made such an error here, for as long as
a failover can take: once the database has been out of reach for longer
than ``PATIENCE`` seconds, failures are errors again, so a database that is
really gone shows as one instead of holding every thread.

The one place RelStorage opens a PostgreSQL connection
(``Psycopg2ConnectionManager.open``, RelStorage 4.3.0 as pinned) is wrapped
when this module is imported; a RelStorage without it fails loudly.
"""

import threading
import time

from psycopg2 import OperationalError
from relstorage.adapters.postgresql.connmanager import Psycopg2ConnectionManager
from transaction.interfaces import TransientError

# Seconds the database may be out of reach while failures still count as
# transient: more than a failover takes (Patroni's ttl plus loop-wait).
PATIENCE = 60


class DatabaseUnavailable(OperationalError, TransientError):
    """No database server took the connection; Zope retries the request."""


class Outage:
    """Since when this process has found no database to connect to (None while it connects)."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.since, self.lock = clock, None, threading.Lock()

    def connected(self):
        with self.lock:
            self.since = None

    def failed(self):
        """True while the outage is young enough to retry."""
        with self.lock:
            now = self.clock()
            if self.since is None:
                self.since = now
            return now - self.since <= PATIENCE


OUTAGE = Outage()


def transient_open(open_connection, outage=OUTAGE):
    """OPEN_CONNECTION wrapped: its OperationalError becomes DatabaseUnavailable during a young outage."""

    def open(self, *args, **kwargs):
        try:
            opened = open_connection(self, *args, **kwargs)
        except OperationalError as error:
            if isinstance(error, DatabaseUnavailable) or not outage.failed():
                raise
            raise DatabaseUnavailable(*error.args) from error
        outage.connected()
        return opened

    open.wrapped = open_connection
    return open


def patch():
    if getattr(Psycopg2ConnectionManager.open, "wrapped", None) is None:
        Psycopg2ConnectionManager.open = transient_open(Psycopg2ConnectionManager.open)


patch()
