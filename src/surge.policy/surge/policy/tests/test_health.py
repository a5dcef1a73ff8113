"""HAProxy's health check, a WSGI filter in front of Zope, on a real ZODB: ok while the root object can be
read, failing while the instance is drained, and through a database outage ok only while it is younger than
the requests' patience."""

import os
import tempfile
import unittest

import psycopg2
from ZODB import DB
from ZODB.MappingStorage import MappingStorage

from surge.policy import database_retry
from surge.policy.health import HealthCheck, filter_factory

PATH = "/@@surge-health"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Unreachable:
    """A database whose every open fails as a lost PostgreSQL connection does."""

    def __init__(self, error):
        self.error = error

    def open(self, **kwargs):
        raise self.error


def zope(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the site"]


class TestHealthCheck(unittest.TestCase):
    def setUp(self):
        self.db = DB(MappingStorage())
        self.clock = Clock()
        self.outage = database_retry.Outage(self.clock)
        self.drain = tempfile.TemporaryDirectory()
        self.database = self.db

    def tearDown(self):
        self.db.close()
        self.drain.cleanup()

    def call(self, path=PATH, port="8101"):
        check = HealthCheck(zope, PATH, self.drain.name, database=lambda: self.database, outage=self.outage)
        answer = {}
        body = check({"PATH_INFO": path, "SERVER_PORT": port},
                     lambda status, headers: answer.update(status=status, headers=dict(headers)))
        return answer["status"], answer["headers"], b"".join(body).decode()

    def test_ok_never_cached_and_every_other_path_goes_to_zope(self):
        status, headers, body = self.call()
        self.assertEqual((status, body), ("200 OK", "ok\n"))
        self.assertEqual(headers["Cache-Control"], "no-store")
        self.assertEqual(self.call("/Plone")[2], "the site")
        self.assertEqual(self.call(PATH + "/")[2], "the site")

    def test_the_connection_comes_back_to_the_pool(self):
        for _ in range(20):
            self.call()
        self.assertLessEqual(len(self.db.pool.all), 1)

    def test_a_drained_instance_fails_and_the_others_do_not(self):
        open(os.path.join(self.drain.name, "8101"), "w").close()
        self.assertEqual(self.call(port="8101")[::2], ("503 Service Unavailable", "draining\n"))
        self.assertEqual(self.call(port="8102")[0], "200 OK")

    def test_a_young_outage_keeps_the_instance_in_its_pool_an_old_one_does_not(self):
        self.database = Unreachable(psycopg2.OperationalError("connection refused"))
        status, _, body = self.call()
        self.assertEqual(status, "200 OK")
        self.assertIn("waiting for the database", body)
        self.clock.now += database_retry.PATIENCE + 1
        self.assertEqual(self.call()[::2], ("503 Service Unavailable", "database unavailable: OperationalError\n"))
        # Back: ok, and the next outage is young again.
        self.database = self.db
        self.assertEqual(self.call()[0], "200 OK")
        self.database = Unreachable(psycopg2.OperationalError("connection refused"))
        self.assertEqual(self.call()[0], "200 OK")

    def test_an_error_that_is_no_outage_fails_at_once(self):
        self.database = Unreachable(ValueError("a broken object"))
        self.assertEqual(self.call()[::2], ("503 Service Unavailable", "database unavailable: ValueError\n"))

    def test_paste_builds_it_from_wsgi_ini_options(self):
        check = filter_factory({}, path=PATH, drain_directory=self.drain.name)(zope)
        self.assertEqual((check.app, check.path, check.drain_directory), (zope, PATH, self.drain.name))
