"""The front page through the real publisher: themed, and cached for anonymous users."""

import unittest

import transaction
from plone.testing.zope import Browser

from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING


class TestFrontPage(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        transaction.commit()
        self.browser = Browser(self.layer["app"])
        self.browser.handleErrors = False

    def test_front_page_is_themed(self):
        self.browser.open(self.layer["portal"].absolute_url())
        self.assertIn('id="surge-brand"', self.browser.contents)
        self.assertIn("++theme++surge/surge.css", self.browser.contents)

    def test_front_page_may_be_cached_by_the_proxy(self):
        self.browser.open(self.layer["portal"].absolute_url())
        self.assertIn("s-maxage=300", self.browser.headers["Cache-Control"])
