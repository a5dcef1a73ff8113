"""A failed database connection is a transient error (Zope retries the request)
while the outage is younger than a failover can take, an error after."""

import unittest

from psycopg2 import OperationalError
from relstorage.adapters.postgresql.connmanager import Psycopg2ConnectionManager
from transaction.interfaces import TransientError

from surge.policy import database_retry


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class TestTransientOpen(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.outage = database_retry.Outage(self.clock)
        self.failing = True

        def open_connection(manager, *args, **kwargs):
            if self.failing:
                raise OperationalError('connection to server at "db-1" failed: Connection refused')
            return "connection", "cursor"

        self.open = database_retry.transient_open(open_connection, self.outage)

    def test_a_failed_connection_is_transient_and_still_a_driver_error(self):
        with self.assertRaises(database_retry.DatabaseUnavailable) as caught:
            self.open(None)
        self.assertIsInstance(caught.exception, TransientError)
        self.assertIsInstance(caught.exception, OperationalError)
        self.assertIn("Connection refused", str(caught.exception))

    def test_after_the_patience_a_failed_connection_is_an_error(self):
        self.assertRaises(database_retry.DatabaseUnavailable, self.open, None)
        self.clock.now += database_retry.PATIENCE + 1
        with self.assertRaises(OperationalError) as caught:
            self.open(None)
        self.assertNotIsInstance(caught.exception, TransientError)

    def test_a_connection_that_succeeds_ends_the_outage(self):
        self.assertRaises(database_retry.DatabaseUnavailable, self.open, None)
        self.clock.now += database_retry.PATIENCE + 1
        self.failing = False
        self.assertEqual(self.open(None), ("connection", "cursor"))
        self.failing = True
        self.assertRaises(database_retry.DatabaseUnavailable, self.open, None)

    def test_relstorages_connection_manager_is_wrapped_once(self):
        database_retry.patch()
        wrapped = Psycopg2ConnectionManager.open.wrapped
        self.assertIsNone(getattr(wrapped, "wrapped", None))
