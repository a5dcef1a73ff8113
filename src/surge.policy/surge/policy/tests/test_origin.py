"""The instances' callers: a request with nginx's header (0 or 1) passes from anywhere the firewall admits;
one without it only from an app server's address; a header holding anything else from nowhere."""

import unittest

from surge.policy.origin import filter_factory

APP_PEERS = "10.0.0.21 10.0.0.22 127.0.0.1"


def zope(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the site"]


class TestOrigin(unittest.TestCase):
    def setUp(self):
        self.app = filter_factory({}, app_peers=APP_PEERS)(zope)

    def status(self, remote, header=None):
        environ = {"REMOTE_ADDR": remote, "PATH_INFO": "/Plone"}
        if header is not None:
            environ["HTTP_X_SURGE_ADMIN"] = header
        said = []
        self.app(environ, lambda status, headers: said.append(status))
        return said[0].split()[0]

    def test_a_request_without_the_header_passes_from_an_app_server_only(self):
        for remote in ("10.0.0.21", "10.0.0.22", "127.0.0.1", "::ffff:10.0.0.21"):
            with self.subTest(remote=remote):
                self.assertEqual(self.status(remote), "200")
        for remote in ("10.0.0.11", "10.0.0.23", "127.0.0.2", "::1", "", "not-an-address"):
            with self.subTest(remote=remote):
                self.assertEqual(self.status(remote), "403")

    def test_nginx_s_header_passes_from_anywhere_and_nothing_else_does(self):
        for header in ("0", "1"):
            with self.subTest(header=header):
                self.assertEqual(self.status("10.0.0.11", header), "200")
        for header in ("", "yes", "1, 1", "0,1", " 1", "true"):
            with self.subTest(header=header):
                self.assertEqual(self.status("10.0.0.11", header), "403")
                self.assertEqual(self.status("10.0.0.21", header), "403")
