"""A method named in a form body runs only for requests nginx marks as coming
from an admin address; XML-RPC, the other way to name one, Zope 6 refuses. An
administrator (Manager, Site Administrator, or a role with a setup permission)
is refused from outside whatever the URL and whichever credentials; an editor
is not; without the header (an app server's own request) both pass."""

import json
import secrets
import unittest
import urllib.parse

import transaction
from plone.app.testing import SITE_OWNER_NAME, SITE_OWNER_PASSWORD
from plone.testing.zope import Browser
from zExceptions import BadRequest, Forbidden

from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING

XMLRPC = ('<?xml version="1.0"?><methodCall><methodName>getId</methodName><params></params></methodCall>')
# The test users' password: made for each run, as every password is.
PASSWORD = secrets.token_urlsafe(24)
# (user, global roles on the site); "setup" gets a setup permission through a role of its own.
USERS = {"editor": ("Member", "Editor"), "siteadmin": ("Member", "Site Administrator"),
         "manager": ("Member", "Manager"), "setup": ("Member", "Setup Reader")}


def add_users(portal):
    portal._addRole("Setup Reader")
    portal.manage_permission("Plone Site Setup: Overview", ["Manager", "Site Administrator", "Setup Reader"],
                             acquire=False)
    for name, roles in USERS.items():
        portal.acl_users.userFolderAddUser(name, PASSWORD, list(roles), [])
    transaction.commit()


class TestNamedMethods(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        add_users(self.layer["portal"])
        self.url = self.layer["portal"].absolute_url()
        self.as_user("editor", PASSWORD)

    def as_user(self, name, password):
        # An editor: the rule on methods is not the rule on administrators (which refuses them from outside).
        self.browser = Browser(self.layer["app"])
        self.browser.handleErrors = False
        self.browser.addHeader("Authorization", f"Basic {name}:{password}")

    def post(self, admin, data, content_type="application/x-www-form-urlencoded"):
        if admin is not None:
            self.browser.addHeader("X-Surge-Admin", admin)
        self.browser.post(self.url, data, content_type)
        return self.browser.contents

    def test_a_method_in_a_form_body_from_outside_is_refused(self):
        # Methods the editor may call: only the way they are named is refused.
        for data in ("getId:method=1", "folder_contents:action=Go", ":default_method=getId",
                     "a=1&getId:default_action=1"):
            with self.subTest(data=data), self.assertRaises(Forbidden):
                self.post("0", data)

    def test_xml_rpc_is_refused(self):
        with self.assertRaises((BadRequest, Forbidden)):
            self.post("0", XMLRPC, "text/xml")

    def test_an_admin_address_may_name_a_method(self):
        self.as_user(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
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


class TestAdministratorsFromOutside(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        add_users(self.layer["portal"])
        self.url = self.layer["portal"].absolute_url()

    def browser(self, admin, authorization=None):
        browser = Browser(self.layer["app"])
        browser.handleErrors = False
        if authorization:
            browser.addHeader("Authorization", authorization)
        if admin is not None:
            browser.addHeader("X-Surge-Admin", admin)
        return browser

    def status(self, browser, path, data=None, content_type=None):
        """The status, or the exception's name when the publisher raised one."""
        if "/@" in path:  # plone.rest answers its services to JSON clients only
            browser.addHeader("Accept", "application/json")
        try:
            if data is None:
                browser.open(self.url + path)
            else:
                browser.post(self.url + path, data, content_type)
        except Exception as error:  # the publisher's own: Forbidden, Unauthorized, NotFound...
            return type(error).__name__
        return browser.headers["status"].split()[0]

    def test_an_administrator_from_outside_is_refused_whatever_the_url(self):
        # Each path is one the user opens from an admin address (the positive control), refused from outside.
        paths = {"manager": ("", "/@@search", "/@@overview-controlpanel", "/overview-controlpanel/",
                             "/++view++overview-controlpanel", "/@@usergroup-userprefs", "/@users", "/@registry",
                             "/manage_main"),
                 "siteadmin": ("", "/@@search", "/@@overview-controlpanel", "/overview-controlpanel/",
                               "/@@usergroup-userprefs", "/@@usergroup-groupprefs"),
                 "setup": ("", "/@@search", "/@@overview-controlpanel")}
        for user, user_paths in paths.items():
            for path in user_paths:
                with self.subTest(user=user, path=path):
                    credentials = f"Basic {user}:{PASSWORD}"
                    self.assertEqual(self.status(self.browser("1", credentials), path), "200")
                    self.assertEqual(self.status(self.browser("0", credentials), path), "Forbidden")

    def test_the_zope_root_administrator_from_outside_is_refused(self):
        browser = self.browser("0", f"Basic {SITE_OWNER_NAME}:{SITE_OWNER_PASSWORD}")
        self.assertEqual(self.status(browser, ""), "Forbidden")

    def test_an_administrators_login_from_outside_is_refused_by_form_and_by_json(self):
        form = urllib.parse.urlencode({"__ac_name": "manager", "__ac_password": PASSWORD, "buttons.login": "Log in"})
        self.assertEqual(self.status(self.browser("0"), "/login", form, "application/x-www-form-urlencoded"),
                         "Forbidden")
        # Padded past any size a check might stop at, and the keys spelt with JSON escapes.
        bodies = (json.dumps({"login": "manager", "password": PASSWORD}),
                  json.dumps({"login": "manager", "password": PASSWORD, "padding": " " * 100_000}),
                  '{"l\\u006fgin": "manager", "p\\u0061ssword": "%s"}' % PASSWORD)
        for path in ("/@login", "/@login/"):
            for body in bodies:
                with self.subTest(path=path, body=body[:40]):
                    self.assertEqual(self.status(self.browser("0"), path, body, "application/json"), "Forbidden")

    def test_the_same_requests_pass_from_an_admin_address_and_an_editor_passes_from_outside(self):
        for user, admin in (("manager", "1"), ("siteadmin", "1"), ("setup", None), ("editor", "0")):
            with self.subTest(user=user, admin=admin):
                self.assertEqual(self.status(self.browser(admin, f"Basic {user}:{PASSWORD}"), "/@@search"), "200")
        form = urllib.parse.urlencode({"__ac_name": "editor", "__ac_password": PASSWORD, "buttons.login": "Log in"})
        self.assertNotEqual(self.status(self.browser("0"), "/login", form, "application/x-www-form-urlencoded"),
                            "Forbidden")

    def test_wrong_credentials_of_an_administrator_are_not_told_apart(self):
        body = json.dumps({"login": "manager", "password": "not-the-password"})
        self.assertNotEqual(self.status(self.browser("0"), "/@login", body, "application/json"), "Forbidden")
