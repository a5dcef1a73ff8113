"""Running the cluster's servers in tests: each under its own supervisord,
started in the order production needs and stopped by the test that started it.
"""

import base64
import collections
import contextlib
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.parse

from conftest import port_open, run, supervisorctl, wait_until
from surge.buildout import across, build_secrets, secretsfile
from surge.cluster import running as cluster_running
from surge.cluster import topology

# The cluster's addresses and ports, from its manifest: the tests' one place for them.
SERVER_NAMES = tuple(server.name for server in topology.SERVERS)
ADDRESS = topology.ADDRESS
WEB_1, WEB_2, APP_MASTER, APP_SLAVE = (ADDRESS[name] for name in ("web-1", "web-2", "app-master", "app-slave"))
SPARE = topology.SPARE_ADDRESS
SPARE_WEB = topology.SPARE_WEB_ADDRESS
HTTPS, HTTP = topology.HTTPS_PORT, topology.HTTP_PORT
HAPROXY, BASE = topology.HAPROXY_PORT, topology.INSTANCE_BASE_PORT
ZOPE_USER = topology.ZOPE_USER
SITE_URLS = topology.site_urls()
# The path of the site as the web servers' nginx rewrites it for Zope.
VHM = topology.VIRTUAL_HOST_PREFIX
# The headers of a form's POST.
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Varnish's port (production's base.cfg, which the overlay keeps): the purgers' listener.
VARNISH = 6081
# A loopback address outside the cluster's admin addresses and limit-exempt (127.0.0.1 only), and no server's.
OUTSIDER = "127.0.0.2"


exchange = cluster_running.exchange


def request(host, port, path, method="GET", headers=None, body=None, timeout=60, source=None):
    """(status, headers, body) of one plain HTTP request."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    return exchange(connection, method, path, headers, body)


def load(host, port, path, headers, clients, seconds, stop=None):
    """CLIENTS threads requesting PATH for SECONDS, or until the event STOP is set: (answers, failures)."""
    return load_with(lambda: request(host, port, path, headers=headers)[0], clients, seconds, stop)


# One failed request of a load: its status (or the error), when it was sent (time.monotonic()) and the clock then.
Failure = collections.namedtuple("Failure", "status sent clock")


class Load:
    """CLIENTS threads calling ASK (a request: its status) for SECONDS, or until the event STOP is set,
    each PAUSE seconds between requests, from the moment it is made. ANSWERS (the statuses 200) and
    FAILURES (any other status, or any error: a cut response too) grow as it runs; join() waits for its end."""

    def __init__(self, ask, clients, seconds, stop=None, pause=0):
        deadline = time.monotonic() + seconds
        self.answers, self.failures, lock = [], [], threading.Lock()

        def client():
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                sent = time.monotonic()
                try:
                    status = ask()
                except (OSError, http.client.HTTPException) as error:
                    status = repr(error)
                with lock:
                    if status == 200:
                        self.answers.append(status)
                    else:
                        self.failures.append(Failure(status, sent, time.strftime("%H:%M:%S")))
                if pause:
                    time.sleep(pause)

        self.threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def join(self):
        """(answers, failures) once every client has stopped."""
        for thread in self.threads:
            thread.join()
        return self.answers, self.failures


def load_with(ask, clients, seconds, stop=None, pause=0):
    """A Load run to its end: (answers, failures)."""
    return Load(ask, clients, seconds, stop, pause).join()


def instance_threads(root):
    """Every thread of one instance that answers requests (the request threads and the spare ones): how many
    responses it can be writing at once."""
    settings = across.load(os.path.join(root, "app-master", "cluster.cfg"))["instance-settings"]
    return int(settings["threads"]) + int(settings["spare-threads"])


def only_the_killed_instances_requests_failed(failures, killed, threads):
    """Assert that no request sent after KILLED (time.monotonic()) failed, and no more than the killed instance's
    THREADS in flight then: HAProxy sends a request again when its instance did not answer, but a response cut
    in the middle of its body has reached the client already."""
    assert [failure for failure in failures if failure.sent >= killed] == [], failures[:5]
    assert len(failures) <= threads, failures[:5]
    print(f"{len(failures)} requests in flight at the killed instance cut: {[failure.status for failure in failures]}")


def nginx_limit(root, zone):
    """(requests per second, burst) of the limit_req ZONE web-1's nginx runs with."""
    with open(os.path.join(root, "web-1", "etc", "nginx.conf")) as stream:
        config = stream.read()
    number, unit = re.search(rf"zone={zone}:\S+ rate=(\d+)r/([sm]);", config).groups()
    burst = re.search(rf"limit_req zone={zone} burst=(\d+)", config).group(1)
    return int(number) / (60 if unit == "m" else 1), int(burst)


def admin_password(root):
    """The Zope admin's password, from the cluster's secrets file."""
    return secretsfile.value(os.path.join(root, "secrets.cfg"), "zope-admin-password")


def admin_authorization(root):
    return "Basic " + base64.b64encode(f"admin:{admin_password(root)}".encode()).decode()


def https(root, address, path, method="GET", headers=None, body=None, source=None):
    """(status, headers, body bytes) of one request through a web server's nginx, trusting the cluster's CA."""
    context = ssl.create_default_context(cafile=os.path.join(root, "tls", "ca.crt"))
    connection = http.client.HTTPSConnection(address, HTTPS, context=context, timeout=60,
                                             source_address=(source, 0) if source else None)
    return exchange(connection, method, path, headers, body)


def write_session(send, root, name, value):
    """Store NAME=VALUE in a new Beaker session as the Zope admin, with the CSRF token a GET gives:
    (the session cookie, the POST's headers). SEND(path, method, headers, body) makes one request."""
    authorization = {"Authorization": admin_authorization(root)}
    status, _, body = send("/@@surge-session", "GET", authorization, None)
    assert status == 200, body
    form = urllib.parse.urlencode({name: value, "_authenticator": json.loads(body)["token"]})
    status, headers, body = send("/@@surge-session", "POST",
                                 {**authorization, **FORM}, form)
    assert status == 200, body
    return headers["Set-Cookie"].split(";", 1)[0], headers


def login(root, address):
    """The __ac cookie of a login through ADDRESS."""
    form = urllib.parse.urlencode({"__ac_name": "admin", "__ac_password": admin_password(root),
                                   "buttons.login": "Log in", "came_from": ""})
    status, headers, body = https(root, address, "/login", "POST",
                                  FORM, form)
    cookies = [value for key, value in headers.items() if key.lower() == "set-cookie" and value.startswith("__ac=")]
    assert status in (200, 302) and cookies, (status, body[:500])
    return cookies[0].split(";", 1)[0]


def admin_json(root):
    return {"Authorization": admin_authorization(root), "Accept": "application/json",
            "Content-Type": "application/json"}


def published_page(root, title):
    """A new published page made through web-1; its path."""
    headers = admin_json(root)
    status, _, body = https(root, WEB_1, "/", "POST", headers, json.dumps({"@type": "Document", "title": title}))
    assert status == 201, body
    path = urllib.parse.urlsplit(json.loads(body)["@id"]).path
    status, _, body = https(root, WEB_1, f"{path}/@workflow/publish", "POST", headers, "{}")
    assert status == 200, body
    return path


def create_document(root, host, port, title):
    """A new page made through the instance at HOST:PORT (plone.restapi); its path under VHM."""
    headers = {"Authorization": admin_authorization(root), "Accept": "application/json",
               "Content-Type": "application/json"}
    status, _, body = request(host, port, f"{VHM}/", "POST", headers, json.dumps({"@type": "Document", "title": title}))
    assert status == 201, body
    return "/" + json.loads(body)["@id"].split("/", 3)[3]


def haproxy_stats():
    """HAProxy's statistics on app-master: {(proxy, server): row}."""
    return cluster_running.haproxy_stats(APP_MASTER)


def instance_rows():
    return {key: row for key, row in haproxy_stats().items() if key[1].startswith(("app-master-", "app-slave-"))}


def all_instances_up():
    rows = instance_rows()
    return len(rows) == 4 and all(row["status"] == "UP" for row in rows.values())


def app_tier(root):
    """The servers the app tier needs: the app servers and etcd's voters (the database's elections need a
    majority of them; all are started, so a new etcd cluster forms with every member)."""
    roles = cluster_running.roles(root)
    return tuple(name for name in SERVER_NAMES if name in roles["app-servers"] + roles["voters"])


@contextlib.contextmanager
def app_tier_running(root):
    """The app tier running with the site created (the cluster library's start sequence);
    yields create-site's output."""
    names = app_tier(root)
    try:
        yield cluster_running.up(root, names)
    finally:
        cluster_running.down(root, names)
        for address, port in ((APP_MASTER, HAPROXY), (APP_MASTER, 5432), (APP_MASTER, BASE), (APP_SLAVE, BASE)):
            wait_until(lambda a=address, p=port: not port_open(a, p), 60, f"{address}:{port} is closed")


PSQL = "/usr/lib/postgresql/15/bin/psql"


def sql(root, query, server="app-master", database="logs"):
    """Rows of QUERY on DATABASE (the logs database unless told) of SERVER's PostgreSQL (primary or replica),
    as the database's superuser over its socket."""
    socket_dir = os.path.join(root, server, "var", "run", "postgresql")
    output = run(["runuser", "-u", "postgres", "--", PSQL, "-X", "-A", "-t",
                  "-F", "|", "-h", socket_dir, "-d", database, "-c", query], cwd="/").stdout
    return [line.split("|") for line in output.splitlines() if line]


def site_psql(root, server, query, password=None, timeout=30):
    """QUERY sent over TCP to SERVER's PostgreSQL as the site's login for PASSWORD (the secrets file's unless
    told), as the instances connect: the completed process (or None on timeout)."""
    password = password or secretsfile.value(topology.secrets_file(root), "postgres-site-password")
    return psql_as(server, query, user=build_secrets.login_name("surge", password), password=password,
                   database="surge", timeout=timeout)


def psql_as(server, query, *, user, password, database, timeout=30):
    """QUERY sent over TCP to SERVER's PostgreSQL as USER with PASSWORD, psql's output and errors together:
    the completed process (or None on timeout)."""
    command = [PSQL, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query,
               f"host={topology.ADDRESS[server]} port={topology.POSTGRES_PORT} dbname={database} user={user}"]
    try:
        return subprocess.run(command, env=dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def log(root, server, message, priority="local0.info", tag="surge-test"):
    """MESSAGE sent by the syslog API to SERVER's own rsyslog socket."""
    socket_path = os.path.join(root, server, "var", "run", "log.sock")
    subprocess.run(["logger", "--socket-errors=on", "-u", socket_path, "-p", priority, "-t", tag, message],
                   check=True)


@contextlib.contextmanager
def database_down(root):
    """Every database server's Patroni (and so PostgreSQL) stopped, the replicas first, so that none is
    promoted meanwhile; started again afterwards, until there is a primary."""
    servers = cluster_running.roles(root)["database-servers"]
    primary = cluster_running.primary(root)
    order = sorted(servers, key=lambda name: name == primary)
    try:
        for name in order:
            supervisorctl(os.path.join(root, name), "stop", "patroni", check=True)
        yield
    finally:
        for name in reversed(order):
            supervisorctl(os.path.join(root, name), "start", "patroni", check=True)
        wait_until(lambda: cluster_running.primary(root), 120, "a primary again")


@contextlib.contextmanager
def web_server_running(root, name):
    """The web server NAME (nginx, Varnish, varnishncsa, rsyslog) running in front of the app tier."""
    try:
        cluster_running.up(root, (name,))
        yield os.path.join(root, name)
    finally:
        cluster_running.down(root, (name,))
        wait_until(lambda: not port_open(topology.ADDRESS[name], HTTPS), 30, f"{name}'s nginx is gone")
