"""The runtime pieces: health check, Beaker session access, the SQL table."""

import json
import os
import tempfile
import unittest

import transaction
from zope.component import getMultiAdapter

from surge.policy import data
from surge.policy.session import ISession, NoSession
from surge.policy.testing import SURGE_POLICY_INTEGRATION_TESTING


class TestHealth(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_health_answers_ok_and_is_never_cached(self):
        portal, request = self.layer["portal"], self.layer["request"]
        view = getMultiAdapter((portal, request), name="surge-health")
        self.assertEqual(view(), "ok\n")
        self.assertEqual(request.response.getHeader("Cache-Control"), "no-store")

    def test_health_fails_while_the_instance_is_drained(self):
        from App.config import getConfiguration

        portal, request = self.layer["portal"], self.layer["request"]
        view = getMultiAdapter((portal, request), name="surge-health")
        configuration = getConfiguration()
        saved = getattr(configuration, "product_config", None)
        with tempfile.TemporaryDirectory() as directory:
            configuration.product_config = dict(saved or {}, **{"surge.health": {"drain-directory": directory}})
            request.environ["SERVER_PORT"] = "8103"
            try:
                self.assertEqual(view(), "ok\n")
                open(os.path.join(directory, "8103"), "w").close()
                self.assertEqual(view(), "draining\n")
                self.assertEqual(request.response.getStatus(), 503)
            finally:
                configuration.product_config = saved

    def test_health_fails_when_the_database_cannot_be_opened(self):
        portal, request = self.layer["portal"], self.layer["request"]
        view = getMultiAdapter((portal, request), name="surge-health")
        database = portal._p_jar.db()
        original = database.open
        database.open = lambda *args, **kwargs: (_ for _ in ()).throw(OSError("connection refused"))
        try:
            self.assertIn("database unavailable", view())
            self.assertEqual(request.response.getStatus(), 503)
        finally:
            database.open = original


class FakeBeakerSession(dict):
    id = "abc"
    saved = 0

    def save(self):
        self.saved += 1


class TestSession(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_session_comes_from_the_beaker_filter(self):
        request = self.layer["request"]
        request.environ["beaker.session"] = beaker = FakeBeakerSession()
        self.assertIs(ISession(request), beaker)

    def test_missing_filter_is_a_clear_error(self):
        request = self.layer["request"]
        request.environ.pop("beaker.session", None)
        with self.assertRaises(NoSession):
            ISession(request)

    def test_session_view_sets_on_post_and_reads_on_get(self):
        portal, request = self.layer["portal"], self.layer["request"]
        request.environ["beaker.session"] = beaker = FakeBeakerSession()
        request.method = "POST"
        request.form = {"colour": "blue"}
        getMultiAdapter((portal, request), name="surge-session")()
        self.assertEqual((beaker["colour"], beaker.saved), ("blue", 1))
        request.method, request.form = "GET", {}
        answer = json.loads(getMultiAdapter((portal, request), name="surge-session")())
        self.assertEqual(answer["values"], {"colour": "blue"})


class TestSignups(unittest.TestCase):
    """The table lives in a real SQLite file; rows follow Zope's transaction."""

    def setUp(self):
        handle, self.path = tempfile.mkstemp(suffix=".sqlite")
        os.close(handle)
        self.url = f"sqlite:///{self.path}"

    def tearDown(self):
        transaction.abort()
        os.remove(self.path)

    def test_committed_signup_is_stored(self):
        self.assertTrue(data.add_signup("a@example.org", self.url))
        transaction.commit()
        self.assertEqual(data.count_signups(self.url), 1)

    def test_aborted_zope_transaction_leaves_no_row(self):
        data.add_signup("b@example.org", self.url)
        transaction.abort()
        self.assertEqual(data.count_signups(self.url), 0)

    def test_same_address_is_recorded_once(self):
        data.add_signup("c@example.org", self.url)
        transaction.commit()
        self.assertFalse(data.add_signup("c@example.org", self.url))

    def test_without_configuration_the_error_says_where(self):
        with self.assertRaises(data.NotConfigured):
            data.database_url()
