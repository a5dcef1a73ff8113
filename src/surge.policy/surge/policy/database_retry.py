"""A request that meets a database failover is retried, not shown as an error.

While the database's primary moves (a failover, a planned switchover), an
instance's connections to the old primary break, and new ones find no
primary for a few seconds, or a replica that refuses writes. RelStorage then
raises psycopg2's errors, and Zope shows the visitor an error page. Zope's
publisher already retries a request that failed with a ``TransientError`` (a
ZODB conflict is one): it aborts the transaction, waits a random while that
doubles with each try, and publishes the request again, body included.
Nothing was written by the failed try (ZODB writes at commit, and RelStorage
marks a connection lost during commit as transient itself), so the errors
that mean "the database is out of reach or switching" are made such an error
here, for as long as a failover can take: once the database has been out of
reach for longer than ``PATIENCE`` seconds, they are errors again, so a
database that is really gone shows as one instead of holding every thread.

Zope's publisher has no hook for this; the two steps of
``ZPublisher.WSGIPublisher.publish_module`` that meet the database, opening
the application (``load_app``) and publishing in a transaction
(``transaction_pubevents``), are wrapped when this module is imported (Zope
6.3 as pinned; a Zope without them fails loudly).
"""

import contextlib
import threading
import time

import psycopg2
import psycopg2.errors
from transaction.interfaces import TransientError
from ZPublisher import WSGIPublisher

# Seconds the database may be out of reach while its errors still count as
# transient: more than a failover takes (Patroni's ttl plus loop-wait).
PATIENCE = 60

# What a server that went away, shut down, is starting or is a replica says.
SWITCHING = (psycopg2.OperationalError, psycopg2.InterfaceError, psycopg2.errors.AdminShutdown,
             psycopg2.errors.CrashShutdown, psycopg2.errors.CannotConnectNow,
             psycopg2.errors.ReadOnlySqlTransaction)


class DatabaseUnavailable(TransientError):
    """The database was out of reach or switching; Zope retries the request."""


def switching(error):
    """True when ERROR, or what it was raised from, says the database is out of reach or switching."""
    while error is not None:
        if isinstance(error, SWITCHING):
            return True
        # libpq's "server closed the connection unexpectedly" comes as a bare DatabaseError without a code.
        if type(error) is psycopg2.DatabaseError and error.pgcode is None:
            return True
        error = error.__cause__ or error.__context__
    return False


class Outage:
    """Since when this process's requests meet an unreachable database (None while they do not)."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.since, self.lock = clock, None, threading.Lock()

    def over(self):
        with self.lock:
            self.since = None

    def young(self):
        """True while the outage is young enough to retry."""
        with self.lock:
            now = self.clock()
            if self.since is None:
                self.since = now
            return now - self.since <= PATIENCE


OUTAGE = Outage()


def retrying(step, outage=OUTAGE):
    """The context manager STEP, whose database errors become DatabaseUnavailable during a young outage:
    those of the block it guards, before STEP sees them (transaction_pubevents decides on a retry from
    the error it gets), and STEP's own, entering or leaving (opening the application, or an abort that
    polls a database which is not back yet)."""

    def transient(error):
        if not isinstance(error, TransientError) and switching(error) and outage.young():
            return DatabaseUnavailable(f"{type(error).__name__}: {error}")
        return None

    @contextlib.contextmanager
    def wrapped(*args, **kwargs):
        try:
            with step(*args, **kwargs) as value:
                try:
                    yield value
                except Exception as error:
                    raise transient(error) or error
        except Exception as error:
            raise transient(error) or error
        outage.over()

    wrapped.wrapped = step
    return wrapped


def patch():
    for name in ("load_app", "transaction_pubevents"):
        step = getattr(WSGIPublisher, name)
        if getattr(step, "wrapped", None) is None:
            setattr(WSGIPublisher, name, retrying(step))


patch()
