"""A login writes the member's login time on the first login only: later logins leave the database alone."""

import unittest

import transaction
from plone import api
from plone.app.testing import TEST_USER_NAME, login, logout

from surge.policy.login_times import NEVER
from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING


class TestLoginTimes(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        self.portal = self.layer["portal"]
        self.tool = api.portal.get_tool("portal_membership")
        login(self.portal, TEST_USER_NAME)

    def tearDown(self):
        logout()

    def login_time(self, name):
        return api.user.get(username=TEST_USER_NAME).getProperty(name)

    def changed_objects(self):
        """The persistent objects this transaction would write."""
        return [(type(o), o) for o in self.portal._p_jar._registered_objects]

    def test_the_first_login_is_written_and_told_apart(self):
        api.user.get(username=TEST_USER_NAME).setMemberProperties({"login_time": NEVER, "last_login_time": NEVER})
        transaction.savepoint()
        self.assertTrue(self.tool.setLoginTimes())
        self.assertNotEqual(self.login_time("login_time"), NEVER)
        self.assertEqual(self.login_time("last_login_time"), self.login_time("login_time"))

    def test_a_later_login_writes_nothing(self):
        # The first login also rotates plone.protect's keyrings that are due (daily, weekly).
        self.tool.loginUser(self.layer["request"])
        first = self.login_time("login_time")
        transaction.commit()
        self.assertFalse(self.tool.setLoginTimes())
        self.tool.loginUser(self.layer["request"])
        self.assertEqual(self.changed_objects(), [], "a later login changed persistent objects")
        self.assertEqual(self.login_time("login_time"), first)

    def test_an_anonymous_visitor_writes_nothing(self):
        logout()
        self.assertFalse(self.tool.setLoginTimes())
        self.assertEqual(self.changed_objects(), [])
