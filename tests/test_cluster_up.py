"""``bin/cluster up`` starts all four servers and prints the URLs, ``status`` shows every program running, ``up``
again changes nothing (same supervisord processes, the site not created twice); six secrets of five kinds
rotated with ``bin/rotate-secret`` under load with no failed request and no login refused by PostgreSQL, each
new value in use and the old one refused, a member still logged in; a setting of each daemon
changed on web-1, app-master and app-slave and taken with ``bin/apply`` (nginx reloaded, Varnish's VCL
switched, HAProxy reloaded, PostgreSQL reloaded on one and restarted where a parameter needs it on the other,
the instances restarted one at a time, rsyslog restarted, one supervisord program updated), bin/apply saying
exactly that and nothing else, under load through both web servers and app-master's HAProxy with no failed
request; a rolling restart stops at an instance that cannot start; ``down`` leaves no process of the cluster
and no open port.
"""

import base64
import collections
import contextlib
import json
import os
import re
import stat
import threading
import time
import uuid

import pytest

from conftest import port_open, program_states, repo_path, run, supervisorctl, wait_until
from running import (
    APP_MASTER,
    BASE,
    HAPROXY,
    HTTPS,
    SERVER_NAMES,
    VHM,
    WEB_1,
    WEB_2,
    all_instances_up,
    https,
    load_with,
    login,
    request,
    site_psql,
    sql,
    write_session,
)
from surge.buildout import across, secretsfile
from surge.buildout.network import addresses_of
from surge.buildout.recipes import validation
from surge.cluster import cgroups, topology
from surge.cluster import running as cluster_running

SERVERS = SERVER_NAMES
pytestmark = pytest.mark.slow


def cluster(root, *args, check=True):
    return run([repo_path("bin", "cluster"), *args, "--root", root], timeout=900, check=check)


def supervisord_pids(root):
    pids = {}
    for name in SERVERS:
        path = os.path.join(root, name, "var", "run", "supervisord.pid")
        pids[name] = open(path).read().strip() if os.path.exists(path) else None
    return pids


def processes_under(root):
    """Command lines of the processes that run something of the cluster's root."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                command = stream.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if root in command and "bin/cluster" not in command and "pytest" not in command:
            found.append(f"{pid}: {command}")
    return found


@pytest.fixture(scope="module")
def site(cluster):
    root, _ = cluster
    try:
        output = cluster_command(root, "up")
        yield root, output
    finally:
        cluster_command(root, "down", check=False)


def cluster_command(root, command, check=True):
    return cluster(root, command, check=check).stdout


def test_up_starts_everything_and_prints_the_urls(site):
    root, output = site
    assert f"https://{WEB_1}:{HTTPS}/" in output and f"https://{WEB_2}:{HTTPS}/" in output
    for address, port in ((WEB_1, HTTPS), (WEB_2, HTTPS), (APP_MASTER, HAPROXY), (APP_MASTER, 5432)):
        assert port_open(address, port), f"{address}:{port}"


def test_status_shows_every_program_of_every_server_running(site):
    root, _ = site
    result = cluster(root, "status")
    lines = [line.split() for line in result.stdout.splitlines() if line.split()[:1] and line.split()[0] in SERVERS]
    assert {line[0] for line in lines} == set(SERVERS)
    assert all(line[-1] == "RUNNING" for line in lines), result.stdout


def listening_sockets():
    """{pid: {(address, port)}} of every listening TCP socket and bound UDP socket of this machine."""
    found = collections.defaultdict(set)
    listing = run(["ss", "-H", "-l", "-n", "-t", "-u", "-p"], cwd="/").stdout
    for line in listing.splitlines():
        address, _, port = line.split()[4].rpartition(":")
        for pid in re.findall(r"pid=(\d+)", line):
            found[int(pid)].add((address.strip("[]").split("%")[0], int(port)))
    return found


def listen_entries(root, server):
    """{(address, port)} of every [listen] entry of SERVER's configuration, ranges spelt out."""
    entries, problems = validation.listen_entries(across.load(os.path.join(root, server, "cluster.cfg")))
    assert not problems, problems
    return {(address, port) for _, host, first, last in entries for address in addresses_of(host)
            for port in range(first, last + 1)}


def test_every_socket_of_every_server_is_one_of_its_listen_entries(site):
    # Every daemon binds what its [listen] entry says, so the build's collision and wildcard checks and the
    # firewall cover exactly what is bound.
    root, _ = site
    sockets = listening_sockets()
    for server in SERVERS:
        bound = {socket for pid in cgroups.pids(cgroups.group(root, server)) for socket in sockets.get(pid, ())}
        assert bound, f"{server} listens on nothing"
        assert not bound - listen_entries(root, server), (server, sorted(bound - listen_entries(root, server)))


def test_up_on_a_running_cluster_changes_nothing(site):
    root, _ = site
    before = supervisord_pids(root)
    output = cluster_command(root, "up")
    assert output.count("already running") == 4
    assert "exists; nothing to do" in output
    assert supervisord_pids(root) == before


# A change to each daemon's settings, and what bin/apply must say it did with it (patterns): nothing else.
CHANGES = {
    "web-1": (["nginx-settings:retry-after=37", "varnish-settings:grace-healthy=20s"],
              [r"nginx reloaded \(HUP\)", r"Varnish switched to surge_\w+"]),
    "app-master": (["haproxy-settings:check-interval=3s", "postgres-settings:work-mem=24MB",
                    "instance-settings:zodb-cache-size=31000", "rsyslog-settings:queue-disk-space=3g",
                    "logs-report-settings:every=301"],
                   [r"haproxy reloaded \(USR2\)", "PostgreSQL of app-master reloaded", "rsyslog restarted",
                    "instances restarted one at a time", "supervisord updated logs-report"]),
    "app-slave": (["postgres-settings:shared-buffers=160MB", "instance-settings:zodb-cache-size=31000"],
                  [r"PostgreSQL of app-slave reloaded and restarted \(.*\)", "instances restarted one at a time"]),
}


def rebuild_and_apply(root, server, settings):
    """bin/buildout with SETTINGS on the server's overlay, then bin/apply: what bin/apply said it did."""
    directory = os.path.join(root, server)
    run([os.path.join(directory, "bin", "buildout"), "-N", "-c", "cluster.cfg", *settings], cwd=directory)
    output = run([os.path.join(directory, "bin", "apply")], cwd=directory, timeout=900).stdout
    return [line[len("apply: "):] for line in output.splitlines()
            if line.startswith("apply: ") and " changed: " not in line]


def postgres_setting(root, server, name):
    return sql(root, f"SHOW {name}", server)[0][0]


def retry_after(root):
    return https(root, WEB_1, "/_surge/busy")[1]["Retry-After"]


@contextlib.contextmanager
def under_load(root):
    """Load through both web servers and app-master's HAProxy while the block runs: {name: (answers, failures)}
    once it ends."""
    stop, results = threading.Event(), {}

    def through(name, ask):
        results[name] = load_with(ask, clients=2, seconds=1200, stop=stop, pause=0.05)

    loaders = [
        threading.Thread(target=through, args=("members via HAProxy", lambda: request(
            APP_MASTER, HAPROXY, f"{VHM}/news", headers={"X-Surge-Class": "member"})[0])),
        threading.Thread(target=through, args=("uncached pages via web-1", lambda: https(
            root, WEB_1, f"/news?load={uuid.uuid4().hex}")[0])),
        threading.Thread(target=through, args=("cached pages via web-2", lambda: https(root, WEB_2, "/news")[0])),
    ]
    for loader in loaders:
        loader.start()
    try:
        yield results
    finally:
        stop.set()
        for loader in loaders:
            loader.join()


def no_request_failed(results):
    for name, (answers, failures) in results.items():
        print(f"{name}: {len(answers)} answered, {len(failures)} failed")
        assert failures == [] and answers, (name, failures[:5])


# Secrets rotated under load, each with a check that the new value is the one in use.
ROTATED = ("postgres-site-password", "postgres-replication-password", "patroni-api-password", "zope-admin-password",
           "varnish-admin-secret", "beaker-secret")


def rotate(root, name):
    """bin/rotate-secret NAME, run on app-master: the lines it printed."""
    directory = os.path.join(root, "app-master")
    output = run([os.path.join(directory, "bin", "rotate-secret"), name], cwd=directory, timeout=1800).stdout
    return [line for line in output.splitlines() if line.startswith("rotate-secret: ")]


def site_login_works(root, password):
    """True when the site's login for PASSWORD logs in with it (over TCP, as the instances do)."""
    result = site_psql(root, "app-master", "SELECT 1", password=password)
    return result is not None and result.returncode == 0


def admin_status(root, password):
    """Status of the site's user list (the REST API's, for Managers) through app-master's HAProxy with the Zope
    admin's PASSWORD."""
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    return request(APP_MASTER, HAPROXY, f"{VHM}/@users",
                   headers={"Authorization": f"Basic {token}", "Accept": "application/json"})[0]


def test_each_secret_is_rotated_under_load_with_no_failed_request(site):
    """bin/rotate-secret for six secrets of five kinds, one after the other, under load; each new value is
    the one in use afterwards and the old one is not. A member logged in before stays logged in; what the
    session held is lost (the documented cost of a new Beaker secret)."""
    root, _ = site
    secrets_file = os.path.join(root, "secrets.cfg")
    before = secretsfile.read(secrets_file)
    send = lambda *args: https(root, WEB_1, *args)  # noqa: E731
    said, took, cookies = {}, {}, {}
    logs = [os.path.join(root, server, "var", "log", "patroni.log") for server in ("app-master", "app-slave")]
    offsets = {path: os.path.getsize(path) for path in logs}
    with under_load(root) as results:
        for name in ROTATED:
            if name == "beaker-secret":
                # Logged in (with the admin's current password) and a session written just before.
                session, _ = write_session(send, root, "basket", "three apples")
                cookies["Cookie"] = f"{login(root, WEB_1)}; {session}"
                assert json.loads(send("/@@surge-session", "GET", cookies, None)[2])["values"] == {
                    "basket": "three apples"}
            started = time.monotonic()
            said[name] = rotate(root, name)
            took[name] = time.monotonic() - started
    after = secretsfile.read(secrets_file)
    for name in ROTATED:
        print(f"{name}: rotated in {took[name]:.0f} s")
        assert after[name] != before[name] and said[name][-1].startswith(f"rotate-secret: done: {name}"), said[name]
    no_request_failed(results)
    # PostgreSQL (its log is Patroni's) refused no login meanwhile: the instances not yet restarted kept logging
    # in with the old site password (its login retired only at the end), the restarted ones with the new.
    for path, offset in offsets.items():
        with open(path, errors="replace") as stream:
            stream.seek(offset)
            refused = [line for line in stream if "password authentication failed" in line]
        assert refused == [], (path, refused[:3])
    assert site_login_works(root, after["postgres-site-password"])
    assert not site_login_works(root, before["postgres-site-password"])
    # The replica streams again, over a connection opened with the new password.
    wait_until(lambda: sql(root, "SELECT state FROM pg_stat_replication") == [["streaming"]], 60,
               "app-slave streaming from app-master")
    assert admin_status(root, after["zope-admin-password"]) == 200
    assert admin_status(root, before["zope-admin-password"]) == 401
    for server in ("app-master", "app-slave"):
        # The REST API takes the new password (patronictl sends it from patroni.yml).
        run(["/usr/bin/patronictl", "-c", os.path.join(root, server, "etc", "patroni.yml"), "reload", "surge",
             server, "--force"], cwd="/")
    old_api = base64.b64encode(f"patroni:{before['patroni-api-password']}".encode()).decode()
    assert request(APP_MASTER, topology.PATRONI_PORT, "/reload", "POST",
                   {"Authorization": f"Basic {old_api}"})[0] == 401
    new_secret, old_secret = os.path.join(root, "web-1", "etc", "varnish-secret"), os.path.join(root, "old-secret")
    with open(os.open(old_secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as stream:  # the same file, the old value
        stream.write(open(new_secret).read().replace(after["varnish-admin-secret"], before["varnish-admin-secret"]))
    for secret, works in ((new_secret, True), (old_secret, False)):
        ping = run(["varnishadm", "-T", f"{WEB_1}:6082", "-S", secret, "ping"], cwd="/", check=False)
        assert (ping.returncode == 0) == works, (secret, ping.stdout)
    # Still logged in; the session's content is gone.
    status, _, body = send("/@@surge-session", "GET", cookies, None)
    assert status == 200 and "token" in json.loads(body) and json.loads(body)["values"] == {}, body


def test_a_change_to_each_daemon_is_applied_under_load_with_no_failed_request(site):
    """Each server rebuilt with changed settings and bin/apply run, under load through both web servers
    and app-master's HAProxy; afterwards rebuilt as it was (the module's last test stops it)."""
    root, _ = site
    done, restored = {}, {}
    try:
        with under_load(root) as results:
            for server, (settings, _) in CHANGES.items():
                done[server] = rebuild_and_apply(root, server, settings)
            wait_until(lambda: retry_after(root) == "37", 30, "nginx's new Retry-After")
            changed = (postgres_setting(root, "app-master", "work_mem"),
                       postgres_setting(root, "app-slave", "shared_buffers"))
    finally:
        for server in CHANGES:
            restored[server] = run([os.path.join(root, server, "bin", "buildout"), "-N", "-c", "cluster.cfg"],
                                   cwd=os.path.join(root, server)).stdout
    # Each rebuilt PostgreSQL part provisions the site's database where PostgreSQL is the primary, and only there.
    primary = cluster_running.primary(root)
    for server in ("app-master", "app-slave"):
        assert ("PostgreSQL here is not the running primary" in restored[server]) == (server != primary), server
    for server, (_, said) in CHANGES.items():
        assert len(done[server]) == len(said) and all(
            sum(bool(re.fullmatch(pattern, line)) for line in done[server]) == 1 for pattern in said), done[server]
    assert changed == ("24MB", "160MB")
    no_request_failed(results)
    wait_until(all_instances_up, 30, "every instance back in HAProxy")


def test_a_rolling_restart_stops_at_an_instance_that_cannot_start(site):
    root, _ = site
    slave = os.path.join(root, "app-slave")
    first, second = (f"instance:instance-{port}" for port in (BASE, BASE + 1))
    running_since = {name: state for name, state in program_states(slave)}
    wsgi_ini = os.path.join(slave, "parts", "instance", "etc", "wsgi.ini")
    mode = stat.S_IMODE(os.stat(wsgi_ini).st_mode)
    os.chmod(wsgi_ini, 0o600)  # the Zope user cannot read it: a restarted instance cannot start
    try:
        result = run([os.path.join(slave, "bin", "rolling-restart")], cwd=slave, timeout=600, check=False)
    finally:
        os.chmod(wsgi_ini, mode)
    assert result.returncode == 1, result.stdout
    assert f"stopped: {first} did not start" in result.stdout and f"not restarted: {second}" in result.stdout
    # The second instance was never drained or stopped: it serves what it served before.
    assert running_since[second] == "RUNNING" and dict(program_states(slave))[second] == "RUNNING"
    assert "drained" not in result.stdout.split(f"stopped: {first}")[1]
    supervisorctl(slave, "start", first, check=True)
    wait_until(all_instances_up, 180, "every instance back in HAProxy")


def test_down_stops_everything_and_leaves_no_process(site):
    root, _ = site
    cluster_command(root, "down")
    assert processes_under(root) == []
    for address, port in ((WEB_1, HTTPS), (WEB_2, HTTPS), (APP_MASTER, HAPROXY), (APP_MASTER, 5432)):
        assert not port_open(address, port), f"{address}:{port} still open"
    stopped = cluster(root, "status", check=False)
    assert stopped.returncode == 3 and stopped.stdout.count("not running") == 4
