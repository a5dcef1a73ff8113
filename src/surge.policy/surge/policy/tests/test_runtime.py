"""The runtime pieces: Beaker session access, the SQL table."""

import json
import os
import tempfile
import unittest

import transaction
from plone.app.testing import TEST_USER_NAME, login, logout
from zExceptions import Forbidden, Unauthorized
from zope.component import getMultiAdapter

from surge.policy import data
from surge.policy.session import ISession, NoSession
from surge.policy.testing import SURGE_POLICY_INTEGRATION_TESTING


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

    def session_view(self, method="GET", **form):
        portal, request = self.layer["portal"], self.layer["request"]
        request.method, request.form = method, form
        return getMultiAdapter((portal, request), name="surge-session")

    def test_a_logged_in_user_writes_with_the_token_a_get_gave(self):
        self.layer["request"].environ["beaker.session"] = beaker = FakeBeakerSession()
        login(self.layer["portal"], TEST_USER_NAME)
        token = json.loads(self.session_view()())["token"]
        self.session_view("POST", colour="blue", _authenticator=token)()
        self.assertEqual((dict(beaker), beaker.saved), ({"colour": "blue"}, 1))
        self.assertEqual(json.loads(self.session_view()())["values"], {"colour": "blue"})

    def test_an_anonymous_post_writes_nothing(self):
        self.layer["request"].environ["beaker.session"] = beaker = FakeBeakerSession()
        logout()
        with self.assertRaises(Unauthorized):
            self.session_view("POST", colour="blue")()
        self.assertEqual((dict(beaker), beaker.saved), ({}, 0))
        self.assertNotIn("token", json.loads(self.session_view()()))

    def test_a_post_without_the_token_writes_nothing(self):
        self.layer["request"].environ["beaker.session"] = beaker = FakeBeakerSession()
        login(self.layer["portal"], TEST_USER_NAME)
        for form in ({"colour": "blue"}, {"colour": "blue", "_authenticator": "forged"}):
            with self.assertRaises(Forbidden):
                self.session_view("POST", **form)()
        self.assertEqual(beaker.saved, 0)

    def test_a_post_over_the_size_cap_writes_nothing(self):
        self.layer["request"].environ["beaker.session"] = beaker = FakeBeakerSession()
        login(self.layer["portal"], TEST_USER_NAME)
        token = json.loads(self.session_view()())["token"]
        for form in ({"big": "x" * 5000}, {f"f{n}": "x" for n in range(11)}):
            with self.assertRaises(Forbidden):
                self.session_view("POST", _authenticator=token, **form)()
        self.assertEqual(beaker.saved, 0)


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
