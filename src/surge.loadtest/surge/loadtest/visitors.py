"""A small steady mix of visitors of the cluster, recording every request: what the failover test and
bin/bench use while they cut, freeze or switch servers.

Threads of plain HTTPS clients, each a kind of visitor:

- ``reader``: an anonymous visitor of cached pages, through each web server;
- ``search``: an anonymous search (uncached), through each web server in turn;
- ``author``: a logged-in author opening an edit form and the folder contents;
- ``editor``: an editor saving a new page through the REST API every ``edit_every`` seconds.

Every request is an ``Outcome`` (kind, start and end on the monotonic clock,
status, ok). A panic page is a failed page view, like any error. The editor
keeps the path of every page whose save was confirmed (201), so a test can
look each one up afterwards.
"""

import base64
import http.client
import json
import ssl
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass

from surge.buildout import secretsfile
from surge.cluster import running, topology

TIMEOUT = 60


@dataclass(frozen=True)
class Outcome:
    kind: str
    started: float
    ended: float
    status: object  # the HTTP status, or the error's name
    ok: bool


class Site:
    """The cluster's site through its web servers, trusting the cluster's CA, as the Zope admin."""

    def __init__(self, root):
        self.context = ssl.create_default_context(cafile=topology.ca_file(root))
        self.password = secretsfile.value(topology.secrets_file(root), "zope-admin-password")
        self.basic = "Basic " + base64.b64encode(f"admin:{self.password}".encode()).decode()

    def request(self, address, method, path, headers=None, body=None):
        """(status, headers, body bytes)."""
        connection = http.client.HTTPSConnection(address, topology.HTTPS_PORT, context=self.context,
                                                 timeout=TIMEOUT)
        return running.exchange(connection, method, path, headers, body)

    def login(self, address):
        """The __ac cookie of the admin's login through ADDRESS."""
        form = urllib.parse.urlencode({"__ac_name": "admin", "__ac_password": self.password,
                                       "buttons.login": "Log in", "came_from": ""})
        _, headers, _ = self.request(address, "POST", "/login",
                                     {"Content-Type": "application/x-www-form-urlencoded"}, form)
        cookies = [value for key, value in headers.items() if key.lower() == "set-cookie"
                   and value.startswith("__ac=")]
        if not cookies:
            raise RuntimeError(f"no login cookie from {address}")
        return cookies[0].split(";", 1)[0]

    def json_headers(self):
        return {"Authorization": self.basic, "Accept": "application/json", "Content-Type": "application/json"}

    def exists(self, path):
        """Whether the page at PATH is there (asked of every web server until one answers)."""
        for server in topology.WEB_SERVERS:
            try:
                status, _, _ = self.request(server.address, "GET", path, self.json_headers())
            except OSError:
                continue
            return status == 200
        raise RuntimeError("no web server answers")


class Visitors:
    """Visitors at work from entering the ``with`` block until leaving it."""

    def __init__(self, root, readers=2, searchers=1, authors=2, pause=0.2, edit_every=2.0):
        self.site = Site(root)
        self.outcomes, self.saved, self.lock = [], [], threading.Lock()
        self.stop = threading.Event()
        self.pause, self.edit_every = pause, edit_every
        addresses = [server.address for server in topology.WEB_SERVERS]
        cookie = self.site.login(addresses[0])
        self.loops = (
            [(self.reader, (addresses[index % len(addresses)],)) for index in range(readers)]
            + [(self.searcher, (addresses,)) for _ in range(searchers)]
            + [(self.author, (addresses[0], cookie)) for _ in range(authors)]
            + [(self.editor, (addresses[0],))]
        )
        self.threads = []

    def __enter__(self):
        self.threads = [threading.Thread(target=loop, args=args, daemon=True) for loop, args in self.loops]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(TIMEOUT + 5)

    def record(self, kind, started, status, ok):
        with self.lock:
            self.outcomes.append(Outcome(kind, started, time.monotonic(), status, ok))

    def visit(self, kind, address, method, path, headers=None, body=None, expect=200):
        """One request, recorded; its (status, body) or (error name, None)."""
        started = time.monotonic()
        try:
            status, _, content = self.site.request(address, method, path, headers, body)
        except OSError as error:
            self.record(kind, started, type(error).__name__, False)
            return type(error).__name__, None
        self.record(kind, started, status, status == expect)
        return status, content

    def reader(self, address):
        while not self.stop.wait(self.pause):
            self.visit("reader", address, "GET", "/")

    def searcher(self, addresses):
        number = 0
        while not self.stop.wait(self.pause):
            number += 1
            self.visit("search", addresses[number % len(addresses)], "GET",
                       f"/@@search?SearchableText={uuid.uuid4().hex[:8]}")

    def author(self, address, cookie):
        number = 0
        while not self.stop.wait(self.pause):
            number += 1
            path = "/news/edit" if number % 2 else "/folder_contents"
            self.visit("author", address, "GET", path, {"Cookie": cookie})

    def editor(self, address):
        while not self.stop.wait(self.edit_every):
            title = f"Saved under load {uuid.uuid4().hex[:8]}"
            status, content = self.visit("editor", address, "POST", "/", self.site.json_headers(),
                                         json.dumps({"@type": "Document", "title": title}), expect=201)
            if status == 201:
                with self.lock:
                    self.saved.append("/" + json.loads(content)["@id"].split("/", 3)[3])

    # What happened

    def of(self, kind):
        with self.lock:
            return [outcome for outcome in self.outcomes if outcome.kind == kind]

    def failures(self, kind=None):
        with self.lock:
            return [outcome for outcome in self.outcomes if not outcome.ok and kind in (None, outcome.kind)]

    def first_success_after(self, kind, moment):
        return min((outcome.ended for outcome in self.of(kind) if outcome.ok and outcome.started >= moment),
                   default=None)

    def longest_gap(self, kind, since):
        """The longest time between two confirmed requests of KIND after SINCE."""
        ends = sorted(outcome.ended for outcome in self.of(kind) if outcome.ok and outcome.ended >= since)
        return max((later - earlier for earlier, later in zip(ends, ends[1:])), default=0.0)

    def failed_since(self, moment):
        """'kind +SECONDS status' of every failure, its start counted from MOMENT."""
        return [f"{outcome.kind} {outcome.started - moment:+.1f} {outcome.status}" for outcome in
                sorted(self.failures(), key=lambda outcome: outcome.started)]

    def summary(self):
        kinds = sorted({outcome.kind for outcome in self.outcomes})
        return ", ".join(f"{kind} {len(self.of(kind))} ({len(self.failures(kind))} failed)" for kind in kinds)
