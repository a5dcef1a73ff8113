"""A method named in a form body runs only for requests nginx marks as coming
from an admin address; XML-RPC, the other way to name one, Zope 6 refuses."""

import unittest

import transaction
from plone.app.testing import SITE_OWNER_NAME, SITE_OWNER_PASSWORD
from plone.testing.zope import Browser
from zExceptions import BadRequest, Forbidden

from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING

XMLRPC = ('<?xml version="1.0"?><methodCall><methodName>getId</methodName><params></params></methodCall>')


class TestNamedMethods(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        transaction.commit()
        self.browser = Browser(self.layer["app"])
        self.browser.handleErrors = False
        self.browser.addHeader("Authorization", f"Basic {SITE_OWNER_NAME}:{SITE_OWNER_PASSWORD}")
        self.url = self.layer["portal"].absolute_url()

    def post(self, admin, data, content_type="application/x-www-form-urlencoded"):
        if admin is not None:
            self.browser.addHeader("X-Surge-Admin", admin)
        self.browser.post(self.url, data, content_type)
        return self.browser.contents

    def test_a_method_in_a_form_body_from_outside_is_refused(self):
        for data in ("manage_main:method=1", "manage_main:action=Go", ":default_method=manage_main",
                     "a=1&manage_main:default_action=1"):
            with self.subTest(data=data), self.assertRaises(Forbidden):
                self.post("0", data)

    def test_xml_rpc_is_refused(self):
        with self.assertRaises((BadRequest, Forbidden)):
            self.post("0", XMLRPC, "text/xml")

    def test_an_admin_address_may_name_a_method(self):
        self.post("1", "manage_main:method=1")
        self.assertEqual(self.browser.headers["status"].split()[0], "200")
        self.assertIn("manage_main", self.browser.url + self.browser.contents)

    def test_a_request_that_names_no_method_passes_from_outside(self):
        self.post("0", "searchable_text=news")
        self.assertEqual(self.browser.headers["status"].split()[0], "200")

    def test_a_query_with_type_converters_names_no_method(self):
        self.browser.addHeader("X-Surge-Admin", "0")
        self.browser.open(f"{self.url}?b_start:int=0&sort_on:default=modified")
        self.assertEqual(self.browser.headers["status"].split()[0], "200")
