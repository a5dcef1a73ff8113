"""Both app servers built by ``bin/cluster`` pass ``bin/cluster check``; HAProxy's pools hold every instance once
with ``maxconn`` = threads; bad app settings (ring-fencing every instance, a non-numeric count, a checkout of
site code, a port collision) fail and keep the live files; SQL that does not apply and a schema only one
database server names are refused; then the app tier (and web-1, etcd's third voter) under their supervisords
with the real Plone site on PostgreSQL and memcached: the site exists, created once, purging both Varnishes,
content, Beaker sessions and the SQL table written through app-master are read through app-slave, each class
reaches its pool, 24 clients on 8 threads fail nothing and no instance gets more than its threads, SIGKILL of
an instance under load fails no request sent after it (and no more than its threads before), with every
instance stopped HAProxy redirects to the panic page, and PostgreSQL takes the site's login from the app
servers only, with SCRAM only.
"""

import json
import os
import re
import signal
import socket
import struct
import time
import uuid

import pytest

from conftest import (
    bad_setting_fails_and_keeps_live_files,
    repo_path,
    run,
    supervisorctl,
    wait_until,
)
from running import (
    APP_MASTER,
    APP_SLAVE,
    BASE,
    FORM,
    HAPROXY,
    OUTSIDER,
    VARNISH,
    VHM,
    WEB_1,
    WEB_2,
    ZOPE_USER,
    Load,
    admin_authorization,
    all_instances_up,
    app_tier_running,
    create_document,
    haproxy_stats,
    instance_rows,
    instance_threads,
    load,
    only_the_killed_instances_requests_failed,
    request,
    write_session,
)
from surge.buildout import across, build_secrets, secretsfile
from surge.buildout.errors import ConfigError
from surge.cluster import topology

THREADS = 2
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_servers(cluster):
    """app-master and app-slave running, the site created: (root, create-site's output)."""
    root, _ = cluster
    with app_tier_running(root) as created:
        yield root, created


# Building and checking


def test_cluster_check_passes_every_app_file(cluster):
    root, _ = cluster
    output = run([repo_path("bin", "cluster"), "check", "app-master", "app-slave", "--root", root]).stdout
    lines = [line.split()[:3] for line in output.splitlines()]
    for server, name in (("app-master", "etc/postgresql.conf"), ("app-master", "etc/haproxy.cfg"),
                         ("app-master", "etc/supervisord.conf"), ("app-slave", "etc/supervisord.conf")):
        assert [server, name, "ok"] in lines


def test_haproxy_pools_hold_every_instance_once(cluster):
    root, _ = cluster
    text = open(os.path.join(root, "app-master", "etc", "haproxy.cfg")).read()
    servers = re.findall(r"^\s*server (app-\S+) (\S+) check maxconn (\d+)$", text, re.M)
    assert sorted(address for _, address, _ in servers) == sorted(
        f"{address}:{port}" for address in (APP_MASTER, APP_SLAVE) for port in (BASE, BASE + 1))
    assert {maxconn for _, _, maxconn in servers} == {str(THREADS)}


def test_the_instances_files_take_their_numbers_from_the_settings_section(cluster):
    # surge.buildout:instance hands threads and zodb-cache-size to plone.recipe.zope2instance; surge.buildout:wsgi
    # gives Zope the request threads plus the spare ones.
    root, _ = cluster
    settings = across.load(os.path.join(root, "app-master", "cluster.cfg"))["instance-settings"]
    instance = os.path.join(root, "app-master", "parts", "instance", "etc")
    threads = int(settings["threads"]) + int(settings["spare-threads"])
    assert re.search(rf"^threads = {threads}$", open(os.path.join(instance, "wsgi.ini")).read(), re.M)
    zope_conf = open(os.path.join(instance, "zope.conf")).read()
    assert re.search(rf"^\s*cache-size {settings['zodb-cache-size']}$", zope_conf, re.M)


@pytest.mark.parametrize("setting, message", [
    ("instance-settings:author-instances=3",
     "the command line: [instance-settings] author-instances (3) plus cluster.cfg: [instance-settings] "
     "member-instances (1) ring-fence 4 of the 4 instances; the shared pool needs at least one"),
    ("instance-settings:count=many", "[instance-settings] count = 'many'"),
    ("buildout:develop=src/surge.buildout src/surge.policy",
     "includes src/surge.policy: a production build installs our packages from internal releases"),
    ("ports:memcached=5432", "both use port 5432"),
    # Daemons that start as their own user: only root binds a port below 1024.
    ("listen:instances=${hosts:server}:80+${instance-settings:count}",
     "starts instance without root: only root binds such a port"),
    ("listen:etcd-peer=${hosts:server}:700", "starts etcd without root"),
    # A supervisor program needs a command and whole-number settings.
    ("memcached-program:priority=first",
     "the command line: [memcached-program] priority = 'first' is not a whole number"),
    ("memcached-program:command=", "the command line: [memcached-program] command is missing"),
    ("etcd-settings:election-timeout=400",
     "[etcd-settings] election-timeout = 400 is less than five heartbeats"),
    # rsyslog's lists of log files and of dropped noise, in their shapes.
    ("rsyslog:drop=lonely", "the command line: [rsyslog] drop: 'lonely' is not TAG TEXT"),
    ("rsyslog:files=tag /var/log/x.log multi",
     "the command line: [rsyslog] files: 'tag /var/log/x.log multi' is not TAG PATH [multiline]"),
])
def test_bad_app_setting_fails_and_keeps_the_live_files(cluster, setting, message):
    root, _ = cluster
    bad_setting_fails_and_keeps_live_files(os.path.join(root, "app-master"), setting, message,
                                           ("haproxy.cfg", "supervisord.conf"))


@pytest.mark.parametrize("server", ["app-master", "web-1"])
def test_supervisors_programs_are_written_in_the_order_of_their_priority(cluster, server):
    root, _ = cluster
    config = open(os.path.join(root, server, "etc", "supervisord.conf")).read()
    priorities = [int(number) for number in re.findall(r"^priority = (\d+)$", config, re.M)]
    assert len(priorities) >= 5 and len(set(priorities)) > 2, priorities
    assert priorities == sorted(priorities)


def test_a_patroni_ttl_shorter_than_its_retries_is_refused_where_every_database_server_agrees(cluster):
    # The database servers must agree on [patroni-settings] (tests/test_across_servers.py): here the other one
    # says the same, so Patroni's own rule is what refuses.
    root, _ = cluster
    agreeing = os.path.join(root, "app-slave", "short-ttl.cfg")
    with open(agreeing, "w") as stream:
        stream.write("[buildout]\nextends = cluster.cfg\n\n[patroni-settings]\nttl = 14\n")
    try:
        bad_setting_fails_and_keeps_live_files(
            os.path.join(root, "app-master"), "patroni-settings:ttl=14",
            "the command line: [patroni-settings] ttl = 14 is shorter than", ("patroni.yml",),
            f"topology:server-files+=app-slave={agreeing}")
    finally:
        os.remove(agreeing)


# The recipes' own rules, which the agreement between the servers' files would refuse first in a build: the
# recipe is constructed from app-master's configuration with one value changed, as zc.buildout does.
@pytest.mark.parametrize("part, key, value, message", [
    ("etcd", "voters", "app-master app-slave", "etcd needs an odd number of at least three distinct voters"),
    ("etcd", "voters", "app-slave web-1 web-2", "voters does not name app-master, this server, which runs an etcd"),
    ("patroni-config", "database-servers", "app-slave", "does not name app-master, this server, which runs Patroni"),
])
def test_a_recipe_refuses_a_topology_that_leaves_this_server_out_or_loses_the_majority(cluster, part, key, value,
                                                                                       message):
    root, _ = cluster
    configuration = across.load(os.path.join(root, "app-master", "cluster.cfg"), [("topology", key, value)])
    with pytest.raises(ConfigError) as refused:
        configuration[part]
    assert message in str(refused.value) and f"[topology] {key}" in str(refused.value), refused.value


def test_sql_that_does_not_apply_fails_the_build_and_changes_nothing(cluster):
    root, _ = cluster
    broken = os.path.join(root, "broken.sql")
    with open(broken, "w") as stream:
        stream.write("CREATE TABLE half_done (id int);\nCREATE VIEW nonsense AS SELECT FROM nowhere;\n")
    # app-master the only database server: the schema is not app-slave's, which the build would refuse first.
    output = bad_setting_fails_and_keeps_live_files(
        os.path.join(root, "app-master"), f"postgres:schemas=logs logs {broken}",
        f"psql:{broken}:2: ERROR:", ("postgresql.conf", "pg_hba.conf", "postgres-provision.sql"),
        "topology:database-servers=app-master", only_names=True)
    assert "postgres-provision.sql is unchanged" in output and 'relation "nowhere" does not exist' in output


def test_a_schema_only_one_database_server_names_is_refused_naming_both_files(cluster):
    root, _ = cluster
    output = bad_setting_fails_and_keeps_live_files(
        os.path.join(root, "app-master"), "postgres:schemas=", "but ../app-slave/cluster.cfg (database-servers "
        "app-slave) builds postgres schemas = 'logs logs buildout.d/sql/logs.sql'", ("postgres-provision.sql",),
        only_names=True)
    assert "the database servers form one Patroni cluster" in output


# Running


def test_the_site_exists_and_purges_both_web_servers(app_servers):
    root, created = app_servers
    # The cluster's first start creates it (whichever module starts the app tier first); a later one finds it.
    assert "created /Plone with surge.policy:default" in created or "/Plone exists; nothing to do" in created
    key = "plone.cachepurging.interfaces.ICachePurgingSettings.cachingProxies"
    status, _, body = request(APP_MASTER, BASE, f"{VHM}/@registry/{key}",
                              headers={"Authorization": admin_authorization(root), "Accept": "application/json"})
    assert status == 200 and json.loads(body) == [f"http://{WEB_1}:{VARNISH}", f"http://{WEB_2}:{VARNISH}"], body


def test_create_site_a_second_time_changes_nothing(app_servers):
    root, _ = app_servers
    master = os.path.join(root, "app-master")
    again = run(["runuser", "-u", ZOPE_USER, "--", os.path.join(master, "bin", "create-site")], cwd=master).stdout
    assert "/Plone exists; nothing to do" in again and "Plone purges" not in again


def test_content_written_on_app_master_is_read_on_app_slave(app_servers):
    root, _ = app_servers
    title = f"Draw {uuid.uuid4().hex[:8]}"
    headers = {"Authorization": admin_authorization(root)}
    path = create_document(root, APP_MASTER, BASE, title)
    status, _, body = request(APP_SLAVE, BASE + 1, VHM + path, headers={"Accept": "application/json",
                                                                         **headers})
    assert status == 200 and json.loads(body)["title"] == title


def test_beaker_session_set_on_app_master_is_read_on_app_slave(app_servers):
    root, _ = app_servers
    value = uuid.uuid4().hex
    cookie, _ = write_session(lambda path, *args: request(APP_MASTER, BASE, VHM + path, *args), root, "token", value)
    _, _, body = request(APP_SLAVE, BASE + 1, f"{VHM}/@@surge-session", headers={"Cookie": cookie})
    assert json.loads(body)["values"] == {"token": value}


def test_sql_table_written_on_app_master_is_read_on_app_slave(app_servers):
    before = json.loads(request(APP_MASTER, BASE + 1, f"{VHM}/@@surge-signup")[2])
    status, _, body = request(APP_MASTER, BASE + 1, f"{VHM}/@@surge-signup", "POST", FORM,
                              f"email={uuid.uuid4().hex}@example.org&_authenticator={before['token']}")
    assert (status, json.loads(body)) == (200, {"status": "received"}), body
    _, _, body = request(APP_SLAVE, BASE, f"{VHM}/@@surge-signup")
    assert json.loads(body)["count"] == before["count"] + 1


@pytest.mark.parametrize("klass, pool", [("author", "author"), ("member", "member"), ("anonymous", "shared")])
def test_haproxy_routes_each_class_to_its_pool(app_servers, klass, pool):
    _, headers, _ = request(APP_MASTER, HAPROXY, f"{VHM}/news", headers={"X-Surge-Class": klass})
    assert headers["X-Surge-Pool"] == pool


def zope_event_logs(root):
    return [os.path.join(root, server, "var", "log", "zope", name)
            for server in ("app-master", "app-slave")
            for name in os.listdir(os.path.join(root, server, "var", "log", "zope"))
            if name.startswith("event-")]


def test_no_instance_gets_more_requests_than_threads(app_servers):
    root, _ = app_servers
    logs = {log: os.path.getsize(log) for log in zope_event_logs(root)}
    answers, failures = load(APP_MASTER, HAPROXY, f"{VHM}/news", {"X-Surge-Class": "member"},
                             clients=24, seconds=8)
    # Whether it was heavy enough shows in HAProxy's queue, below, not in a count of answers.
    assert not failures and answers
    rows = instance_rows()
    assert all(int(row["smax"]) <= THREADS for row in rows.values()), {k: r["smax"] for k, r in rows.items()}
    assert any(int(row["qmax"]) > 0 for (proxy, name), row in haproxy_stats().items() if name == "BACKEND"), \
        "the load was too light to queue"
    # Zope has THREADS threads for HAProxy's requests and a spare one for its
    # health checks. A waiting task beyond those can only be the moment a
    # thread finishing a response has not yet taken itself back (HAProxy
    # already sent the next request); more than one would be real queueing.
    depths = []
    for log, offset in logs.items():
        with open(log) as stream:
            stream.seek(offset)
            depths += [int(line.split()[-1]) for line in stream if "Task queue depth is" in line]
    assert max(depths, default=0) <= 1, f"requests queued inside Zope: depths {depths}"


def requests_sent_to(instance):
    """How many requests HAProxy has sent INSTANCE, in all its pools."""
    return sum(int(row["stot"]) for (_, server), row in haproxy_stats().items() if server == instance)


def test_killing_an_instance_under_load_fails_no_request_sent_after_it(app_servers):
    root, _ = app_servers
    master = os.path.join(root, "app-master")
    pid = int(supervisorctl(master, "pid", f"instance:instance-{BASE}").strip())
    served = requests_sent_to(f"app-master-{BASE}")
    running_load = Load(lambda: request(APP_MASTER, HAPROXY, f"{VHM}/news", headers={"X-Surge-Class": "anonymous"})[0],
                        clients=20, seconds=10)
    wait_until(lambda: requests_sent_to(f"app-master-{BASE}") >= served + 5, 60, "the instance takes part of the load")
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    answers, failures = running_load.join()
    assert answers
    only_the_killed_instances_requests_failed(failures, killed, instance_threads(root))
    wait_until(all_instances_up, 120, "the killed instance is restarted and back in its pool")


def test_with_every_instance_stopped_haproxy_sends_the_panic_page(app_servers):
    root, _ = app_servers
    servers = [os.path.join(root, name) for name in ("app-master", "app-slave")]
    try:
        for directory in servers:
            supervisorctl(directory, "stop", "instance:*", check=True)
        wait_until(lambda: all(row["status"] == "DOWN" for row in instance_rows().values()), 60,
                   "HAProxy sees every instance down")
        for klass in ("anonymous", "member", "author"):
            status, headers, _ = request(APP_MASTER, HAPROXY, f"{VHM}/news", headers={"X-Surge-Class": klass})
            assert (status, headers["Location"]) == (302, "/_surge/busy"), klass
        status, _, _ = request(APP_MASTER, HAPROXY, "/_surge/health")
        assert status == 503, "Varnish's probe sees the app tier down"
    finally:
        for directory in servers:
            supervisorctl(directory, "start", "instance:*")
    wait_until(all_instances_up, 180, "every instance is back")


def postgres_first_answer(source, user, database):
    """What app-master's PostgreSQL first answers a client from SOURCE asking for DATABASE as USER (no TLS):
    ("R", its authentication request's code and data) or ("E", the error's text)."""
    parameters = f"user\0{user}\0database\0{database}\0\0".encode()
    server = (APP_MASTER, topology.POSTGRES_PORT)
    with socket.create_connection(server, timeout=10, source_address=(source, 0)) as client:
        client.sendall(struct.pack("!ii", 8 + len(parameters), 196608) + parameters)  # protocol 3.0's startup
        stream = client.makefile("rb")
        kind, length = struct.unpack("!ci", stream.read(5))
        payload = stream.read(length - 4)
    if kind == b"R":
        return "R", struct.unpack("!i", payload[:4])[0], payload[4:]
    return "E", payload.decode(errors="replace")


SASL = 10  # PostgreSQL's AuthenticationSASL; 3 and 5 would be a cleartext or MD5 password


def test_postgresql_takes_the_site_from_the_app_servers_only_and_only_with_scram(app_servers):
    root, _ = app_servers
    password = secretsfile.value(topology.secrets_file(root), "postgres-site-password")
    user = build_secrets.login_name("surge", password)
    # The control: from an app server the site's login is asked for SCRAM, and nothing weaker is offered.
    kind, code, mechanisms = postgres_first_answer(APP_SLAVE, user, "surge")
    assert (kind, code) == ("R", SASL) and mechanisms.split(b"\0")[0] == b"SCRAM-SHA-256", mechanisms
    # From a web server, from an outsider, and for the logs database from app-slave (the log server's only):
    # no entry of pg_hba.conf, before any password.
    for source, database in ((WEB_1, "surge"), (OUTSIDER, "surge"), (APP_SLAVE, "logs")):
        kind, message = postgres_first_answer(source, user if database == "surge" else "logs_writer", database)
        assert kind == "E" and f'no pg_hba.conf entry for host "{source}"' in message, (source, message)
