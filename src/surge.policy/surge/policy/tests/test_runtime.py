"""The runtime pieces: Beaker session access, the SQL table, the sign-up form."""

import json
import os
import tempfile
import unittest

import transaction
from App.config import getConfiguration
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


class TestSignupForm(unittest.TestCase):
    """@@surge-signup as a public form: the token and the browser's own origin, one answer for new and known
    addresses, the count for admin addresses and app servers only."""

    layer = SURGE_POLICY_INTEGRATION_TESTING

    def setUp(self):
        handle, self.path = tempfile.mkstemp(suffix=".sqlite")
        os.close(handle)
        configuration = getConfiguration()
        self.saved = getattr(configuration, "product_config", None)
        configuration.product_config = {"surge.policy": {"database-url": f"sqlite:///{self.path}"}}
        logout()

    def tearDown(self):
        transaction.abort()
        getConfiguration().product_config = self.saved
        os.remove(self.path)

    def view(self, method="GET", form=None, **headers):
        request = self.layer["request"]
        request.method = request.environ["REQUEST_METHOD"] = method
        request.form.clear()
        request.form.update(form or {})
        for name in ("HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE", "HTTP_X_SURGE_ADMIN"):
            request.environ.pop(name, None)
        request.environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
        return getMultiAdapter((self.layer["portal"], request), name="surge-signup")

    def token(self):
        return json.loads(self.view()())["token"]

    def test_a_post_from_this_sites_page_with_the_token_is_received_once_and_answered_alike(self):
        answers = [json.loads(self.view("POST", {"email": "d@example.org", "_authenticator": self.token()},
                                        origin="http://nohost", sec_fetch_site="same-origin")())
                   for _ in range(2)]
        self.assertEqual(answers, [{"status": "received"}] * 2)
        self.assertEqual(json.loads(self.view()())["count"], 1)

    def test_a_post_without_the_token_or_from_another_site_writes_nothing(self):
        token = self.token()
        with self.assertRaises(Forbidden):
            self.view("POST", {"email": "e@example.org"})()
        for headers in ({"origin": "https://evil.example"}, {"sec_fetch_site": "cross-site"},
                        {"origin": "http://nohost.evil.example", "sec_fetch_site": "same-site"}):
            view = self.view("POST", {"email": "e@example.org", "_authenticator": token}, **headers)
            self.assertIn("this site's own pages", view())
            self.assertEqual(self.layer["request"].response.getStatus(), 403)
        self.assertEqual(json.loads(self.view()())["count"], 0)

    def test_the_count_is_not_told_outside_the_admin_addresses(self):
        self.assertNotIn("count", json.loads(self.view(x_surge_admin="0")()))
        self.assertIn("count", json.loads(self.view(x_surge_admin="1")()))
