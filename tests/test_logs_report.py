"""bin/logs-report's pages from given rows (the cluster test reads them from the real database):
what clients sent shows as text, in tables and in the plots' labels; a failed query writes nothing."""

import os

import pytest

from conftest import repo_path
from surge.buildout.logdb import LogDatabaseError, views_in
from surge.buildout.ops import logs_report

SCHEMA = repo_path("buildout.d", "sql", "logs.sql")
TEMPLATE = repo_path("buildout.d", "templates", "logs-report.html.j2")
ATTACK = '/news?q=<script>alert(1)</script>&price=$5$x^2$'
HOUR = "2026-11-30 16:00:00+00"


class Rows:
    """The log database's answers, by view; FAIL makes every query fail as psql would."""

    def __init__(self, fail=False):
        self.fail = fail

    def rows(self, query):
        if self.fail:
            raise LogDatabaseError("psql exited 2: could not connect to server")
        if "FROM slowest_urls " in query:
            return [{"url": "/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot" + ATTACK,
                     "requests": "3", "max_ms": "900", "p95_ms": "700", "avg_queue_ms": "10"}]
        if "FROM errors " in query:
            return [{"received": HOUR, "host": "web-1", "program": "nginx", "severity": "3",
                     "message": f"ERROR {ATTACK}"}]
        if "messages_per_server_hour" in query:
            return [{"hour": HOUR, "host": "web-1", "messages": "10", "errors": "1"}]
        if "haproxy_requests_per_class_hour" in query:
            return [{"hour": HOUR, "class": "anonymous", "responses_5xx": "0", "requests": "50"}]
        if "varnish_hit_ratio_hour" in query:
            return [{"hour": HOUR, "host": "web-1", "hits": "9", "misses": "1", "passes": "0",
                     "hit_ratio": "0.900"}]
        return []


def make(database, output):
    logs_report.report(database, views_in(SCHEMA), TEMPLATE, str(output), hours=48, rows=50)


def test_every_view_has_its_page_and_what_clients_sent_is_text(tmp_path):
    make(Rows(), tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted([f"{view}.html" for view in views_in(SCHEMA)] + ["index.html"])
    errors = (tmp_path / "errors.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in errors and "<script" not in errors
    index = (tmp_path / "index.html").read_text()
    assert index.count("<svg") == 5 and "<script" not in index
    # The slowest URL's label: the site's path, escaped, its dollars kept as dollars (no TeX).
    assert "/news?q=&lt;script&gt;alert(1)&lt;/script&gt;&amp;price=$5$x^2$" in index
    assert "VirtualHostRoot" not in index


def test_a_failed_query_leaves_the_last_report_as_it_was(tmp_path):
    make(Rows(), tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    with pytest.raises(LogDatabaseError):
        make(Rows(fail=True), tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
