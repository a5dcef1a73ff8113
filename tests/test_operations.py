"""All four servers with the real site: a line logged on each server reaches the log database with its host and
program; nginx, Varnish, HAProxy, both instances' logs, Patroni (and PostgreSQL), etcd and supervisord all
arrive; no file the daemons write shows a secret to another local user; each view answers from real requests;
``bin/logs`` is read-only; lines of a past incident inserted with their times count in ``responses_per_minute``,
``what_broke`` and ``database_events`` inside ``--since``/``--until`` only (the panic page not counted twice, a
shed request counted as failed); 50 messages sent while every database server is down all arrive; Munin draws
a PNG for every server and a plugin of each service and web-1 and web-2 show them to admin addresses only; an
instance over its memory limit is drained and restarted with no failed request; ``bin/restore-site`` puts a
backup in place of the running site's database (the later page gone through the app tier and a web server, the
previous database kept aside with it); a backup of the replica restored into a new Patroni cluster
(``docs/operations/back-up-and-restore.rst``'s steps) holds the backed-up page and not the later one, refused
on the replica, and the other server copies it.

Central logging: every server's rsyslog forwards its services' logs to the
log server (app-master), whose rsyslog writes them into the logs database;
the views answer the common questions; nothing is lost while the database is
down. Munin: the master graphs every server's services, shown over HTTPS to the
admin addresses. Backups: a dump restored in place, or into a fresh cluster,
holds what it held.
"""

import csv
import datetime
import glob
import io
import json
import os
import re
import stat
import uuid

import browser
import pytest
from secrets_scan import cluster_secrets, files_holding, readable_by_others

from conftest import run, supervisorctl, wait_until
from running import (
    ADDRESS,
    APP_MASTER,
    APP_SLAVE,
    BASE,
    HAPROXY,
    HTTPS,
    OUTSIDER,
    VHM,
    WEB_1,
    WEB_2,
    admin_authorization,
    all_instances_up,
    app_tier_running,
    create_document,
    database_down,
    https,
    load,
    log,
    psql_as,
    published_page,
    request,
    sql,
    web_server_running,
)
from surge.buildout import build_secrets, secretsfile
from surge.cluster import running as cluster_running
from surge.cluster import topology

SERVERS = sorted(ADDRESS)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(cluster):
    """Every server running, the site created: the cluster's root."""
    root, _ = cluster
    with app_tier_running(root), web_server_running(root, "web-1"), \
            web_server_running(root, "web-2"):
        yield root


def arrived(root, condition):
    return bool(sql(root, f"SELECT 1 FROM messages WHERE {condition} LIMIT 1"))


def test_a_line_from_every_server_arrives_with_its_host_and_program(site):
    marker = uuid.uuid4().hex
    for server in SERVERS:
        log(site, server, f"{marker} from {server}")
    wait_until(lambda: len(sql(site, f"SELECT host FROM messages WHERE message LIKE '%{marker}%'")) == 4,
               60, "a line from each server in the log database")
    rows = sql(site, f"SELECT host, program, message FROM messages WHERE message LIKE '%{marker}%'")
    # Each server is named as [topology] servers names it, not by its address.
    assert sorted((host, program, message) for host, program, message in rows) == sorted(
        (server, "surge-test", f"{marker} from {server}") for server in SERVERS)


@pytest.mark.parametrize("program, server", [
    ("nginx", "web-1"), ("nginx", "web-2"), ("varnishncsa", "web-1"), ("varnishncsa", "web-2"),
    ("haproxy", "app-master"), ("zope-access", "app-master"), ("zope-access", "app-slave"),
    ("zope-event", "app-master"), ("zope-event", "app-slave"), ("patroni", "app-master"),
    ("patroni", "app-slave"), ("etcd", "web-1"), ("supervisord", "web-1"), ("supervisord", "app-slave"),
])
def test_every_service_logs_into_the_database(site, program, server):
    for address in (WEB_1, WEB_2):
        for path in ("/", "/news", f"/news?{uuid.uuid4().hex}"):
            assert https(site, address, path)[0] == 200
    wait_until(lambda: arrived(site, f"program = '{program}' AND host = '{server}'"), 60,
               f"{program} of {server} in the log database")


def test_no_file_the_running_servers_write_shows_a_secret_to_other_users(site):
    # tests/test_secrets_at_rest.py reads what the build wrote; this, what the daemons write (var/) while the
    # site serves: logs, PostgreSQL's data, Patroni's password file, the caches.
    values = cluster_secrets(site)
    found = {path: names for server in SERVERS for path, names in files_holding(
        os.path.join(site, server, "var"), values).items()}
    assert found, "no file of var/ holds a secret: the scan looked at nothing (a replica's pgpass holds one)"
    assert not [f"{path} holds {', '.join(names)}" for path, names in found.items() if readable_by_others(path)]


def test_views_answer_from_real_requests(site):
    path = f"/news?view-test={uuid.uuid4().hex}"
    for address in (WEB_1, WEB_2):
        for _ in range(2):
            assert https(site, address, path)[0] == 200
    log(site, "web-2", f"an error {uuid.uuid4().hex}", priority="local0.err")
    wait_until(lambda: arrived(site, f"program = 'haproxy' AND message LIKE '%{path}%'"), 60, "HAProxy's line")
    wait_until(lambda: arrived(site, f"program = 'varnishncsa' AND message LIKE '%{path}%'"), 60, "varnishncsa's")
    # The hits arrive summed up, once the period (hit-summary-seconds, 60) is over.
    wait_until(lambda: arrived(site, f"program = 'varnish-hits' AND message LIKE '%count=1 url=%{path}'"), 90,
               "the hits' summary")
    wait_until(lambda: arrived(site, "severity <= 3 AND program = 'surge-test'"), 60, "the error")
    parsed = sql(site, f"SELECT pool, class, method, status FROM haproxy_requests WHERE url LIKE '%{path}'")
    assert parsed and all(row == ["shared", "anonymous", "GET", "200"] for row in parsed), parsed
    slowest = [int(max_ms) for _, _, max_ms, _, _ in sql(site, "SELECT * FROM slowest_urls")]
    assert slowest == sorted(slowest, reverse=True) and len(slowest) <= 20
    [[longest]] = sql(site, "SELECT max(total_ms) FROM haproxy_requests WHERE received > now() - interval '1 hour'")
    assert slowest[0] == int(longest)
    pools = {pool for _, pool, _, _ in sql(site, "SELECT * FROM haproxy_5xx_per_pool_hour")}
    assert "shared" in pools
    # One row per host and hour, the newest first: summed per host, so requests on both sides of an hour's
    # turn count.
    ratios = {}
    for _, host, hits, misses, _, _ in sql(site, "SELECT * FROM varnish_hit_ratio_hour"):
        before = ratios.get(host, (0, 0))
        ratios[host] = (before[0] + int(hits), before[1] + int(misses))
    assert all(ratios[name][0] >= 1 and ratios[name][1] >= 1 for name in ("web-1", "web-2")), ratios
    errors = sql(site, "SELECT host, program FROM errors")
    assert ["web-2", "surge-test"] in errors
    hosts = {host for _, host, _, _ in sql(site, "SELECT * FROM messages_per_server_hour")}
    assert hosts == set(SERVERS)
    served = {(host, cls) for _, host, cls, *_ in sql(site, "SELECT * FROM responses_per_minute")}
    assert {("web-1", "anonymous"), ("web-2", "anonymous")} <= served, served


def test_bin_logs_prints_a_view_read_only(site):
    master = os.path.join(site, "app-master")
    output = run([os.path.join(master, "bin", "logs"), "messages_per_server_hour"], cwd=master).stdout
    assert "hour" in output and "app-slave" in output
    assert "what_broke" in run([os.path.join(master, "bin", "logs"), "--help"], cwd=master).stdout
    refused = run([os.path.join(master, "bin", "logs"), "messages; DELETE FROM messages"], cwd=master, check=False)
    assert refused.returncode == 2 and "invalid choice" in refused.stdout


def logs_psql(site, role, query):
    """QUERY on the primary's logs database as ROLE (logs_writer or logs_reader), over TCP as rsyslog and
    bin/logs connect, with its password from the secrets file (the writer's for the owner, which has none)."""
    secret = "postgres-logs-reader-password" if role == "logs_reader" else "postgres-logs-writer-password"
    password = secretsfile.value(topology.secrets_file(site), secret)
    return psql_as(cluster_running.primary(site), query, user=role, password=password, database="logs")


PROBE_ROW = ("INSERT INTO messages (received, reported, host, program, facility, severity, message) "
             "VALUES (now(), now(), 'app-master', 'surge-test', 1, 6, 'roles probe')")
# What neither role may do: each a different kind of change or read.
BEYOND_BOTH = (
    "UPDATE messages SET message = ''",
    "DELETE FROM messages",
    "SET default_transaction_read_only = off; DELETE FROM messages",
    "TRUNCATE messages",
    "DROP VIEW errors",
    "ALTER TABLE messages ADD COLUMN probe text",
    "CREATE TABLE probe (x int)",
    "CREATE TEMP TABLE probe (x int)",
    "ALTER VIEW errors RENAME TO probe",
)


def test_the_logs_roles_may_do_their_one_job_and_nothing_else(site):
    # Positive controls: each does its job.
    reader = logs_psql(site, "logs_reader", "SELECT count(*) FROM errors")
    assert reader.returncode == 0, reader.stdout
    writer = logs_psql(site, "logs_writer", PROBE_ROW)
    assert writer.returncode == 0, writer.stdout
    refused = {("logs_reader", query) for query in (*BEYOND_BOTH, PROBE_ROW, "SELECT count(*) FROM messages")}
    refused |= {("logs_writer", query) for query in (*BEYOND_BOTH, "SELECT count(*) FROM messages",
                                                    "SELECT count(*) FROM errors")}
    answers = {(role, query): logs_psql(site, role, query) for role, query in sorted(refused)}
    allowed = {case: answer.stdout for case, answer in answers.items() if answer.returncode == 0}
    assert not allowed, allowed
    # The owner never logs in (with any password), nor does the site's login reach the logs database.
    owner = logs_psql(site, "logs", "SELECT 1")
    assert owner.returncode != 0 and "logs" in owner.stdout, owner.stdout
    site_password = secretsfile.value(topology.secrets_file(site), "postgres-site-password")
    site_login = psql_as(cluster_running.primary(site), "SELECT 1", database="logs",
                         user=build_secrets.login_name("surge", site_password), password=site_password)
    assert site_login.returncode != 0, site_login.stdout
    # Neither role owns anything; the owner cannot log in.
    owners = sql(site, "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                       "WHERE relnamespace = 'public'::regnamespace UNION "
                       "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'logs'")
    assert owners == [["logs"]], owners
    assert sql(site, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'logs'") == [["f"]]
    # The report's user reads the reader's password, never the writer's (rsyslog's configuration holds that).
    master = os.path.join(site, "app-master", "etc")
    writer_password = secretsfile.value(topology.secrets_file(site), "postgres-logs-writer-password")
    with open(os.path.join(master, "logs-report-secrets.cfg")) as stream:
        assert writer_password not in stream.read()
    assert stat.S_IMODE(os.stat(os.path.join(master, "rsyslog.conf")).st_mode) & 0o077 == 0


def test_a_password_in_a_query_is_refused_and_reaches_no_log(site):
    password, path = uuid.uuid4().hex, f"/news/{uuid.uuid4().hex}"
    for query in (f"__ac_name=admin&__ac_password={password}", f"x=1&%5f%5fac_password={password}"):
        assert https(site, WEB_1, f"{path}?{query}", source=OUTSIDER)[0] == 403
    wait_until(lambda: arrived(site, f"program = 'nginx' AND message LIKE '%{path}?[login-fields-removed]%'"), 60,
               "the refused requests' lines arrive")
    assert sql(site, f"SELECT count(*) FROM messages WHERE message LIKE '%{password}%'") == [["0"]]


def nginx_line(at, request, status, klass, panic="-"):
    return (f'203.0.113.7 - - [{at:%d/%b/%Y:%H:%M:%S} +0000] "{request} HTTP/2.0" {status} 512 "-" '
            f'"Mozilla/5.0 (\\x22quoted\\x22)" class={klass} rt=0.050 urt=0.050 panic={panic}')


def haproxy_line(at, pool, total_ms, status, klass, request):
    return (f"127.0.1.11:40000 [{at:%d/%b/%Y:%H:%M:%S}.000] public {pool}/app-master-8101 0/0/0/{total_ms}/"
            f'{total_ms} {status} 1234 - - ---- 1/1/0/0/0 0/0 {{{klass}}} "{request} HTTP/1.1"')


def bin_logs(site, *arguments):
    """Rows of bin/logs VIEW --csv ... on the log server, as dicts."""
    master = os.path.join(site, "app-master")
    output = run([os.path.join(master, "bin", "logs"), "--csv", *arguments], cwd=master).stdout
    return list(csv.DictReader(io.StringIO(output)))


def test_bin_logs_answers_for_a_window_what_visitors_got_and_what_broke(site):
    """Lines of a past incident, inserted with their times: only those inside --since/--until count."""
    start = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)).replace(second=0,
                                                                                                 microsecond=0)
    at = [start + datetime.timedelta(seconds=seconds) for seconds in range(0, 600, 5)]
    lines = [
        ("web-1", "nginx", 6, nginx_line(at[1], "GET /news", 200, "anonymous")),
        ("web-1", "nginx", 6, nginx_line(at[2], "GET /news?a=1", 200, "anonymous")),
        ("web-1", "nginx", 6, nginx_line(at[3], "GET /search?SearchableText=x", 302, "anonymous", "shed")),
        ("web-1", "nginx", 6, nginx_line(at[4], "GET /_surge/busy", 503, "anonymous", "page")),
        ("web-1", "nginx", 6, nginx_line(at[5], "POST /login", 429, "anonymous")),
        ("web-2", "nginx", 6, nginx_line(at[6], "GET /folder_contents", 503, "author")),
        ("web-2", "varnish-hits", 6, "handling=hit status=200 count=7 url=/news"),
        ("app-master", "haproxy", 6, haproxy_line(at[7], "author", 7200, 503, "author", "GET /folder_contents")),
        ("app-slave", "zope-event", 3, f"ERROR incident at {at[8]:%H:%M:%S}"),
        ("app-slave", "patroni", 6, "INFO: promoted self to leader by acquiring session lock"),
        ("app-slave", "patroni", 6, "INFO: no action. I am (app-slave), the leader with the lock"),
        # Outside the window: before and after.
        ("web-1", "nginx", 6, nginx_line(start - datetime.timedelta(minutes=5), "GET /before", 502, "anonymous")),
        ("web-1", "nginx", 6, nginx_line(start + datetime.timedelta(minutes=15), "GET /after", 502, "anonymous")),
    ]
    times = [at[1], at[2], at[3], at[4], at[5], at[6], at[6], at[7], at[8], at[9], at[10],
             start - datetime.timedelta(minutes=5), start + datetime.timedelta(minutes=15)]
    values = ", ".join(
        f"('{moment.isoformat()}', '{moment.isoformat()}', '{host}', '{program}', 16, {severity}, "
        f"'{message.replace(chr(39), chr(39) * 2)}')"
        for moment, (host, program, severity, message) in zip(times, lines))
    sql(site, "INSERT INTO messages (received, reported, host, program, facility, severity, message) "
              f"VALUES {values}", server=cluster_running.primary(site))
    # A replica may answer bin/logs: wait until it has the rows.
    wait_until(lambda: len(bin_logs(site, "errors", "--since", start.isoformat(), "--until",
                                    (start + datetime.timedelta(minutes=10)).isoformat())) == 1,
               30, "the inserted lines on the server bin/logs reads")
    window = ["--since", start.isoformat(), "--until", (start + datetime.timedelta(minutes=10)).isoformat()]

    answered = {(row["host"], row["class"]): row for row in bin_logs(site, "responses_per_minute", *window)}
    assert set(answered) == {("web-1", "anonymous"), ("web-2", "author"), ("web-2", "cache hit")}, answered
    web_1 = answered[("web-1", "anonymous")]
    # The panic page itself is the shed visitor's second request, not another page view.
    assert {key: int(web_1[key]) for key in ("requests", "served", "shed", "limited", "errors_5xx")} == {
        "requests": 4, "served": 2, "shed": 1, "limited": 1, "errors_5xx": 0}
    assert int(answered[("web-2", "author")]["errors_5xx"]) == 1
    assert int(answered[("web-2", "cache hit")]["served"]) == 7

    broke = {(row["host"], row["what"]): int(row["times"]) for row in bin_logs(site, "what_broke", *window)}
    assert broke == {
        ("web-1", "shed to the panic page (anonymous)"): 1,
        ("web-1", "limited (429) (anonymous)"): 1,
        ("web-2", "nginx 503 (author)"): 1,
        ("app-master", "haproxy 503 (pool author)"): 1,
        ("app-master", "slow, over 5 s (pool author)"): 1,
        ("app-slave", "error: zope-event"): 1,
    }, broke
    events = [row["message"] for row in bin_logs(site, "database_events", *window)]
    assert events == ["INFO: promoted self to leader by acquiring session lock"], events
    # Without a window, the views cover their default span up to now: the incident is not in it.
    assert not [row for row in bin_logs(site, "what_broke") if "/folder_contents" in row["latest"]
                and row["host"] == "web-2"]
    # A span ago reaches it.
    assert any("incident at" in row["message"] for row in bin_logs(site, "errors", "--since", "31d", "--until", "29d"))


def test_nothing_is_lost_while_the_log_database_is_down(site):
    marker = uuid.uuid4().hex
    with database_down(site):
        for number in range(50):
            log(site, "web-2" if number % 2 else "app-slave", f"{marker} {number}")
    wait_until(lambda: len(sql(site, f"SELECT DISTINCT message FROM messages WHERE message LIKE '{marker} %'")) == 50,
               120, "all 50 messages sent while PostgreSQL was down")
    wait_until(all_instances_up, 120, "the instances are back after PostgreSQL's restart")


# Munin

PLUGINS = {
    "web-1": ["cpu", "memory", "nginx_request", "nginx_status", "surge_varnish"],
    "web-2": ["cpu", "nginx_request", "surge_varnish"],
    "app-master": ["cpu", "surge_haproxy", "postgres_connections_db", "surge_memcached", "surge_zope_memory",
                   "surge_zope_threads"],
    "app-slave": ["cpu", "surge_haproxy", "postgres_connections_db", "surge_memcached", "surge_zope_memory",
                  "surge_zope_threads"],
}


def munin_update(root):
    """One run of the Munin master (what its program does every 5 minutes); True when it succeeded."""
    master = os.path.join(root, "app-master")
    result = run(["runuser", "-u", "munin", "--", "/usr/bin/munin-cron", "--config",
                  os.path.join(master, "etc", "munin", "munin.conf")], cwd="/", check=False)
    return result.returncode == 0


def test_munin_draws_every_server_and_a_plugin_of_each_service(site):
    graphs = os.path.join(site, "app-master", "var", "munin", "www", "surge")
    expected = [os.path.join(graphs, server, f"{plugin}-day.png")
                for server, plugins in PLUGINS.items() for plugin in plugins]
    wait_until(lambda: munin_update(site) and all(os.path.exists(path) for path in expected), 120,
               "a graph of every server and service")
    for path in expected:
        with open(path, "rb") as stream:
            assert stream.read(8) == b"\x89PNG\r\n\x1a\n", path


def test_munin_graphs_are_served_over_https_to_admin_addresses_only(site):
    path = "/_surge/munin/surge/app-slave/surge_zope_memory-day.png"
    wait_until(lambda: munin_update(site) and https(site, WEB_2, path)[0] == 200, 120, "the graph through web-2")
    status, headers, body = https(site, WEB_1, path)
    assert status == 200 and headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    assert https(site, WEB_1, path, source="127.0.0.5")[0] == 403


# The logs report


def test_the_logs_report_shows_plots_and_a_log_line_escaped_to_admin_addresses_only(site, tmp_path):
    master = os.path.join(site, "app-master")
    marker = uuid.uuid4().hex
    # What a client controls reaches the logs: the page must show it as text, never as markup.
    attack = f'ERROR {marker} <img src=x onerror="document.title=1"><script>document.title=2</script>'
    log(site, "web-2", attack, priority="local0.err")
    wait_until(lambda: arrived(site, f"message LIKE '%{marker}%'"), 60, "the error line in the database")
    supervisorctl(master, "restart", "logs-report", check=True)  # bin/every runs the report at once
    wait_until(lambda: marker.encode() in https(site, WEB_2, "/_surge/logs/errors.html")[2], 120,
               "a report with the error line, through web-2")

    page = browser.dom(f"https://{WEB_1}:{HTTPS}/_surge/logs/errors.html")
    assert marker in page and "&lt;img src=x" in page and "&lt;script&gt;" in page
    assert "<img" not in page and "<script" not in page
    index = browser.dom(f"https://{WEB_1}:{HTTPS}/_surge/logs/")
    titles = ("Errors per hour and server", "Requests per hour and class", "5xx responses per hour and class",
              "Varnish hit ratio per hour and web server", "Slowest URLs of the last hour")
    assert index.count("<svg") == len(titles) and all(title in index for title in titles), index[:2000]
    assert 'href="errors.html"' in index and 'href="haproxy_requests_per_class_hour.html"' in index
    browser.screenshot(f"https://{WEB_1}:{HTTPS}/_surge/logs/", str(tmp_path / "logs-report.png"))
    with open(tmp_path / "logs-report.png", "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"

    status, headers, _ = https(site, WEB_1, "/_surge/logs/")
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    assert https(site, WEB_1, "/_surge/logs/", source="127.0.0.5")[0] == 403
    assert https(site, WEB_2, "/_surge/logs/errors.html", source="127.0.0.5")[0] == 403


def test_the_logs_report_keeps_the_last_pages_when_the_database_is_down(site):
    master = os.path.join(site, "app-master")
    index = os.path.join(master, "var", "logs-report", "www", "index.html")
    report = [os.path.join(master, "bin", "logs-report")]
    run(["runuser", "-u", "munin", "--", *report], cwd="/")
    with open(index, "rb") as stream:
        before = stream.read()
    with database_down(site):
        failed = run(["runuser", "-u", "munin", "--", *report], cwd="/", check=False)
    assert failed.returncode == 1 and "the last report is left as it was" in failed.stdout
    with open(index, "rb") as stream:
        assert stream.read() == before
    wait_until(all_instances_up, 120, "the instances are back after PostgreSQL's restart")


# Memory limits


def test_an_instance_over_its_memory_limit_is_drained_and_restarted_without_a_failed_request(site):
    slave = os.path.join(site, "app-slave")
    build = [os.path.join(slave, "bin", "buildout"), "-N", "-c", "cluster.cfg"]
    log_path = os.path.join(slave, "var", "log", "memory-watch.log")
    try:
        # Every instance is over 100 MB (about 200 MB each): each is drained and restarted, one at a time.
        # (RelStorage's cache must stay below the limit: the build refuses a limit under it.)
        run([*build, "instance-settings:memory-limit=100", "relstorage-settings:cache-local-mb=64",
             "instance-settings:memory-check=TICK_5"], cwd=slave)
        supervisorctl(slave, "update", check=True)
        answers, failures = load(APP_MASTER, HAPROXY, f"{VHM}/news", {"X-Surge-Class": "anonymous"},
                                 clients=8, seconds=40)
        assert failures == [] and answers
        # The restart began under load; a busy machine may need longer to warm the instance up.
        wait_until(lambda: "restarted, warmed and back" in open(log_path).read(), 120, "the instance is back")
        assert "drained" in open(log_path).read()
    finally:
        run(build, cwd=slave)
        supervisorctl(slave, "update", check=True)
    wait_until(all_instances_up, 180, "every instance up again")


def test_memory_watch_restarts_no_second_instance_once_one_cannot_start(site):
    slave = os.path.join(site, "app-slave")
    build = [os.path.join(slave, "bin", "buildout"), "-N", "-c", "cluster.cfg"]
    log_path = os.path.join(slave, "var", "log", "memory-watch.log")
    first, second = (f"instance:instance-{port}" for port in (BASE, BASE + 1))
    second_pid = supervisorctl(slave, "pid", second).strip()
    wsgi_ini = os.path.join(slave, "parts", "instance", "etc", "wsgi.ini")
    mode = stat.S_IMODE(os.stat(wsgi_ini).st_mode)
    try:
        # Both instances are over 100 MB; the first restarted cannot read its configuration (a bad release).
        os.chmod(wsgi_ini, 0o600)
        run([*build, "instance-settings:memory-limit=100", "relstorage-settings:cache-local-mb=64",
             "instance-settings:memory-check=TICK_5"], cwd=slave)
        os.chmod(wsgi_ini, 0o600)  # the build wrote it anew
        supervisorctl(slave, "update", check=True)
        wait_until(lambda: f"stopped restarting: {first} did not start" in open(log_path).read(), 300,
                   "memory-watch gives up on the first instance")
        # Later ticks see the first instance down and leave the second alone.
        wait_until(lambda: f"not restarting it: {first} is" in open(log_path).read(), 60, "a later tick refuses")
        assert supervisorctl(slave, "pid", second).strip() == second_pid
    finally:
        os.chmod(wsgi_ini, mode)
        run(build, cwd=slave)
        supervisorctl(slave, "update", check=True)
        supervisorctl(slave, "start", first)
    wait_until(all_instances_up, 180, "every instance up again")


# Backups (last: they replace app-master's database cluster)


def title_of(root, path):
    status, _, body = request(APP_SLAVE, BASE, VHM + path,
                              headers={"Accept": "application/json", "Authorization": admin_authorization(root)})
    return json.loads(body)["title"] if status == 200 else status


def objects_in(site, server, database):
    """How many objects a site database of SERVER's PostgreSQL holds (RelStorage's object_state rows)."""
    return int(sql(site, "SELECT count(*) FROM object_state", server, database)[0][0])


def test_a_backup_restored_in_place_replaces_the_content_and_keeps_the_previous_aside(site):
    primary = cluster_running.primary(site)
    directory = os.path.join(site, primary)
    kept = create_document(site, APP_MASTER, BASE, "Kept by the backup")
    run(["runuser", "-u", "postgres", "--", os.path.join(directory, "bin", "backup")], cwd="/")
    dump = sorted(glob.glob(os.path.join(directory, "var", "backups", "surge", "surge-*.dump")))[-1]
    lost = published_page(site, "Written after the backup")
    for web in (WEB_1, WEB_2):
        assert https(site, web, lost)[0] == 200  # now in both Varnishes' caches too
    before = objects_in(site, primary, "surge")
    output = run([os.path.join(directory, "bin", "restore-site"), dump], cwd=directory, timeout=900).stdout
    print(output)
    assert "restore-site: every web server's Varnish answers the site" in output, output
    assert "restore-site: done: the site answers from" in output, output
    aside = re.search(r"kept as (surge_before_\d{8}T\d{6}Z)", output)[1]
    wait_until(all_instances_up, 180, "every instance up on the restored database")
    assert title_of(site, kept) == "Kept by the backup"
    assert title_of(site, lost) == 404
    assert https(site, WEB_1, lost)[0] == 404 and https(site, WEB_2, lost)[0] == 404
    # The previous database, with the later page, is kept under its new name.
    assert objects_in(site, primary, aside) == before > objects_in(site, primary, "surge")


def test_a_backup_restored_into_a_fresh_cluster_holds_the_backed_up_content(site):
    """docs/operations/back-up-and-restore.rst's steps: a dump of the replica, both databases gone, the cluster record
    removed from etcd, a new cluster created by Patroni, the dump restored on its primary, the other
    database server a copy of it."""
    databases = cluster_running.roles(site)["database-servers"]
    primary = cluster_running.primary(site)
    replica = next(name for name in databases if name != primary)
    first, other = (os.path.join(site, name) for name in (primary, replica))
    kept = create_document(site, APP_MASTER, BASE, "Backed up")
    output = run(["runuser", "-u", "postgres", "--", os.path.join(other, "bin", "backup")], cwd="/").stdout
    assert "backup: surge ->" in output and "backup: logs ->" in output
    dump = sorted(glob.glob(os.path.join(other, "var", "backups", "surge", "surge-*.dump")))[-1]
    lost = create_document(site, APP_MASTER, BASE, "After the backup")

    app_servers = [os.path.join(site, name) for name in cluster_running.roles(site)["app-servers"]]
    for directory in app_servers:
        supervisorctl(directory, "stop", "instance:*", check=True)
    for directory in (other, first):  # the replica first: nothing is promoted meanwhile
        supervisorctl(directory, "stop", "backup", "patroni", check=True)
        os.rename(os.path.join(directory, "var", "postgresql", "data"),
                  os.path.join(directory, "var", "postgresql", "data.old"))
    patronictl = ["patronictl", "-c", os.path.join(first, "etc", "patroni.yml")]
    run([*patronictl, "remove", "surge"], cwd="/", input="surge\nYes I am aware\n")
    supervisorctl(first, "start", "patroni", check=True)
    wait_until(lambda: cluster_running.primary(site) == primary, 120, f"{primary} creates the new cluster")
    restore = os.path.join(first, "bin", "restore")
    assert run([restore, "surge", dump], cwd=first).stdout.count("restore:") == 1
    again = run([restore, "surge", dump], cwd=first, check=False)
    assert again.returncode != 0 and "already has tables" in again.stdout
    supervisorctl(other, "start", "patroni", check=True)
    wait_until(lambda: any(member["name"] == replica and member.get("lag") == 0
                           for member in cluster_running.members(site)), 120, f"{replica} a copy of the new primary")
    on_replica = run([os.path.join(other, "bin", "restore"), "surge", dump], cwd=other, check=False)
    assert on_replica.returncode != 0 and "is a replica" in on_replica.stdout
    for directory in (first, other):
        supervisorctl(directory, "start", "backup", check=True)
    for directory in app_servers:
        supervisorctl(directory, "start", "instance:*", check=True)
    wait_until(all_instances_up, 180, "every instance up on the restored database")
    assert title_of(site, kept) == "Backed up"
    assert title_of(site, lost) == 404
