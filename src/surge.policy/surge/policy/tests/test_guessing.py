"""Login attempts in a body, with a real memcached: every request whose form or JSON body carries credentials
counts against its address (429 with Retry-After beyond the budget), whatever the URL; failures for one
account from many addresses make that account's attempts wait, from every address but an admin one; right
credentials never count as failures; a limit-exempt address (no X-Surge-Limit-Address) is not counted."""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
import unittest
import urllib.parse
import uuid

import transaction
from App.config import getConfiguration
from plone.testing.zope import Browser

from surge.policy import guessing
from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING

PASSWORD = secrets.token_urlsafe(24)
MEMCACHED = "/usr/bin/memcached"
FORM = "application/x-www-form-urlencoded"


def free_port():
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_memcached(test):
    """A memcached of the test's own on a free loopback port, stopped when the test ends: its port."""
    port = free_port()
    user = ["-u", "memcache"] if os.geteuid() == 0 else []
    process = subprocess.Popen([MEMCACHED, "-l", "127.0.0.1", "-p", str(port), "-U", "0", *user])
    test.addCleanup(process.wait, 10)
    test.addCleanup(process.terminate)
    deadline = time.monotonic() + 10
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return port
        if time.monotonic() > deadline:
            raise AssertionError(f"memcached does not answer on 127.0.0.1:{port}")
        time.sleep(0.05)


class TestLoginAttemptsInABody(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        self.port = start_memcached(self)
        self.configuration = getConfiguration()
        self.saved = getattr(self.configuration, "product_config", None)
        self.configure(address_limit=100, account_limit=100)
        portal = self.layer["portal"]
        self.url = portal.absolute_url()
        self.accounts = [f"member-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for name in self.accounts:
            portal.acl_users.userFolderAddUser(name, PASSWORD, ["Member"], [])
        transaction.commit()

    def tearDown(self):
        self.configuration.product_config = self.saved

    def configure(self, address_limit, account_limit):
        config = dict(self.saved or {})
        config["surge.logins"] = {"memcached": f"127.0.0.1:{self.port}", "address-limit": str(address_limit),
                                  "account-limit": str(account_limit), "period": "60"}
        self.configuration.product_config = config

    def attempt(self, path, login, password, address, kind="form", admin="0"):
        """(status, Retry-After) of a login attempt in a body from ADDRESS (None: a limit-exempt one)."""
        browser = Browser(self.layer["app"])
        browser.raiseHttpErrors = False
        browser.addHeader("X-Surge-Admin", admin)
        if address:
            browser.addHeader(guessing.ADDRESS_HEADER, address)
        if kind == "form":
            browser.post(self.url + path, urllib.parse.urlencode({"__ac_name": login, "__ac_password": password}),
                         FORM)
        else:
            browser.addHeader("Accept", "application/json")
            browser.post(self.url + path, json.dumps({"login": login, "password": password}), "application/json")
        return int(browser.headers["status"].split()[0]), browser.headers.get("Retry-After")

    def test_credentials_in_a_body_count_against_the_address_whatever_the_url(self):
        self.configure(address_limit=4, account_limit=100)
        address, neighbour = "192.0.2.1", "192.0.2.2"
        forms = [("", "form"), ("/@@search", "form"), ("/@login", "json"), ("/@login/", "json")]
        answers = [self.attempt(path, self.accounts[0], "wrong", address, kind) for path, kind in forms]
        self.assertNotIn(429, [status for status, _ in answers], answers)
        for path, kind in forms:
            with self.subTest(path=path, kind=kind):
                status, retry_after = self.attempt(path, self.accounts[0], "wrong", address, kind)
                self.assertEqual(status, 429)
                self.assertTrue(0 < int(retry_after) <= 60, retry_after)
        # Controls: another address, and a limit-exempt one, are still heard.
        self.assertNotEqual(self.attempt("", self.accounts[0], "wrong", neighbour)[0], 429)
        for _ in range(6):
            self.assertNotEqual(self.attempt("", self.accounts[0], "wrong", None)[0], 429)

    def test_failures_for_one_account_from_many_addresses_make_it_wait(self):
        self.configure(address_limit=100, account_limit=3)
        target, other = self.accounts
        for number in range(3):
            self.assertNotEqual(self.attempt("", target, "wrong", f"198.51.100.{number}")[0], 429)
        # Even the right password, from a fresh address, by form or JSON, waits out the period.
        for path, kind in (("", "form"), ("/@login", "json")):
            with self.subTest(kind=kind):
                status, retry_after = self.attempt(path, target, PASSWORD, "198.51.100.50", kind)
                self.assertEqual(status, 429)
                self.assertTrue(retry_after)
        # Controls: an admin address is not made to wait; nor is another account; right passwords never
        # count as failures.
        self.assertEqual(self.attempt("", target, PASSWORD, "198.51.100.51", admin="1")[0], 200)
        for number in range(5):
            self.assertEqual(self.attempt("", other, PASSWORD, f"198.51.100.{60 + number}")[0], 200)
