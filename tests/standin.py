"""A stand-in for HAProxy and Plone behind web-1 alone (tests/test_web_tier.py): the tests stop and start it, choose
a page's cache headers by its path, and read what reached it; the whole real site is tried in
tests/test_end_to_end.py.

It answers like Plone with plone.app.caching's caching-proxy rules: anonymous
pages may be cached by the proxy (s-maxage; 1 s for paths with "short", none
for paths with "uncached"), pages for members are private.
Every answer says what reached it (X-Backend-Class, X-Backend-Path,
X-Backend-Count), so tests can tell a cache hit from a fresh answer.
"""

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEALTH_PATH = "/_surge/health"


class Handler(BaseHTTPRequestHandler):
    counter = itertools.count(1)
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        if path == HEALTH_PATH:
            return self.answer(200, b"ok\n", {"Cache-Control": "no-store"})
        count = next(self.counter)
        klass = self.headers.get("X-Surge-Class", "")
        headers = {"X-Backend-Class": klass, "X-Backend-Path": path, "X-Backend-Count": str(count),
                   "X-Backend-Admin": self.headers.get("X-Surge-Admin", ""),
                   "X-Backend-Login": self.headers.get("X-Surge-Login", ""),
                   "Content-Type": "text/html; charset=utf-8"}
        if "uncached" not in path:
            anonymous = klass == "anonymous"
            shared_seconds = 1 if "short" in path else 300
            headers["Cache-Control"] = (
                f"max-age=0, s-maxage={shared_seconds}, must-revalidate" if anonymous
                else "max-age=0, must-revalidate, private"
            )
        # About 2 KB, like a small page: large enough for nginx to compress.
        padding = "<p>" + "Lorem ipsum dolor sit amet. " * 70 + "</p>"
        body = f"<html><body><p>page {path} answer {count} for {klass}</p>{padding}</body></html>\n".encode()
        self.answer(200, body, headers)

    do_HEAD = do_GET

    def do_POST(self):
        """The REST API's writes: the body is read, never cached."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {"X-Backend-Method": self.command, "X-Backend-Length": str(len(body)),
                   "X-Backend-Class": self.headers.get("X-Surge-Class", ""),
                   "X-Backend-Login": self.headers.get("X-Surge-Login", ""), "Cache-Control": "no-store"}
        self.answer(200, b"done\n", headers)

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    def answer(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class StandIn:
    """The stand-in backend on HOST:PORT, in a thread; stop() and start() again."""

    def __init__(self, host, port):
        self.address = (host, port)
        self.server = None

    def start(self):
        self.server = ThreadingHTTPServer(self.address, Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
