"""The database's errors that mean "out of reach or switching" become transient errors (Zope retries the
request) while the outage is younger than a failover can take; other errors stay as they are."""

import contextlib
import unittest

import psycopg2
import psycopg2.errors
from transaction.interfaces import TransientError
from ZPublisher import WSGIPublisher

from surge.policy import database_retry


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class TestSwitching(unittest.TestCase):
    def test_a_lost_or_refused_connection_is_switching(self):
        for error in (psycopg2.OperationalError("connection refused"), psycopg2.InterfaceError("connection already "
                      "closed"), psycopg2.DatabaseError("server closed the connection unexpectedly"),
                      psycopg2.errors.AdminShutdown("terminating connection due to administrator command"),
                      psycopg2.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction")):
            self.assertTrue(database_retry.switching(error), error)

    def test_an_error_of_the_request_itself_is_not(self):
        for error in (psycopg2.errors.UniqueViolation("duplicate key"), psycopg2.ProgrammingError("syntax error"),
                      KeyError("title"), ValueError("bad form")):
            self.assertFalse(database_retry.switching(error), error)

    def test_a_wrapped_database_error_is_found_behind_its_wrapper(self):
        try:
            try:
                raise psycopg2.OperationalError("connection refused")
            except psycopg2.OperationalError as error:
                raise RuntimeError("RelStorage could not poll") from error
        except RuntimeError as wrapper:
            self.assertTrue(database_retry.switching(wrapper))


class TestWrappedSteps(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.outage = database_retry.Outage(self.clock)
        self.exited = []

    def step(self, fail_on_enter=None):
        @contextlib.contextmanager
        def step():
            if fail_on_enter:
                raise fail_on_enter
            try:
                yield "app"
            finally:
                self.exited.append(True)

        return step

    def publish(self, error, wrap=database_retry.retrying):
        with wrap(self.step(), self.outage)():
            raise error

    def test_a_switching_error_while_publishing_is_transient_and_says_what_it_was(self):
        with self.assertRaises(database_retry.DatabaseUnavailable) as caught:
            self.publish(psycopg2.OperationalError("connection refused"))
        self.assertIsInstance(caught.exception, TransientError)
        self.assertIn("OperationalError: connection refused", str(caught.exception))
        self.assertEqual(self.exited, [True])

    def test_an_error_of_the_request_stays_as_it_is(self):
        self.assertRaises(KeyError, self.publish, KeyError("title"))

    def test_after_the_patience_a_switching_error_is_an_error(self):
        self.assertRaises(database_retry.DatabaseUnavailable, self.publish, psycopg2.OperationalError("refused"))
        self.clock.now += database_retry.PATIENCE + 1
        self.assertRaises(psycopg2.OperationalError, self.publish, psycopg2.OperationalError("refused"))

    def test_a_request_published_whole_ends_the_outage(self):
        self.assertRaises(database_retry.DatabaseUnavailable, self.publish, psycopg2.OperationalError("refused"))
        self.clock.now += database_retry.PATIENCE + 1
        with database_retry.retrying(self.step(), self.outage)() as app:
            self.assertEqual(app, "app")
        self.assertRaises(database_retry.DatabaseUnavailable, self.publish, psycopg2.OperationalError("refused"))

    def test_opening_the_application_without_a_database_is_transient(self):
        opening = database_retry.retrying(self.step(psycopg2.DatabaseError("server closed the connection")),
                                          self.outage)
        with self.assertRaises(database_retry.DatabaseUnavailable):
            with opening():
                pass

    def test_an_opened_application_is_closed_after(self):
        with database_retry.retrying(self.step(), self.outage)() as app:
            self.assertEqual(app, "app")
        self.assertEqual(self.exited, [True])

    def test_an_abort_that_meets_the_database_down_is_transient(self):
        @contextlib.contextmanager
        def publishing():
            try:
                yield "request"
            except KeyError:
                raise psycopg2.OperationalError("session is read-only")  # what ZODB's abort polled

        with self.assertRaises(database_retry.DatabaseUnavailable):
            with database_retry.retrying(publishing, self.outage)():
                raise KeyError("the request's own error")

    def test_zopes_publisher_is_wrapped_once(self):
        database_retry.patch()
        for name in ("load_app", "transaction_pubevents"):
            wrapped = getattr(WSGIPublisher, name).wrapped
            self.assertIsNone(getattr(wrapped, "wrapped", None), name)
