"""No single point of failure (:doc:`failover`), in order on one running cluster, each under load (readers of cached
pages through both web servers, searchers, two logged-in authors, an editor saving through the REST API):
app-master killed at once, no cached page fails, writes resume once app-slave is promoted (the pause printed), no
request fails once they have, every confirmed save is there; log lines sent meanwhile arrive when app-master is
back; it rejoins as a synchronous replica and a write sent straight to it is refused; a switchover moves the
primary back with no failed request; the replica killed fails only the requests its instances had in hand and
writes go on (the longest pause printed); the primary frozen past ``ttl`` and thawed: never two primaries at
once, the write it was sent after the thaw never confirmed nor kept.
"""

import os
import threading
import time
import uuid

import pytest

from conftest import repo_path, run, wait_until
from running import log, site_psql, sql
from surge.cluster import running as cluster_running
from surge.loadtest.visitors import Visitors

pytestmark = pytest.mark.slow
# Seconds of load before a server is cut (every kind of visitor at work), and after the site recovered
# (requests that fail late would show there): the load's phases, not waits for a condition.
LOAD_BEFORE, LOAD_AFTER = 5, 15
WAL_SEGMENT = 16 * 1024 * 1024
# Log lines sent by the other servers while the log server (app-master) is down: {server: line}.
SENT_WHILE_DOWN = {}


@pytest.fixture(scope="module")
def site(cluster):
    root, _ = cluster
    try:
        run([repo_path("bin", "cluster"), "up", "--root", root], timeout=900)
        # Earlier modules may have left the other server the primary: start from app-master.
        if cluster_running.primary(root) != "app-master":
            switch_to(root, "app-master")
        yield root
    finally:
        run([repo_path("bin", "cluster"), "down", "--root", root], timeout=600, check=False)


def bin_cluster(root, command, *servers):
    return run([repo_path("bin", "cluster"), command, *servers, "--root", root], timeout=900).stdout


def switch_to(root, name):
    """A planned switchover to NAME, run on the primary; returns once NAME is the primary."""
    primary = cluster_running.primary(root)
    if primary == name:
        return
    run([os.path.join(root, primary, "bin", "database"), "switchover", "--to", name], cwd="/")
    wait_until(lambda: cluster_running.primary(root) == name, 60, f"{name} the primary")


def member(root, name):
    return next((m for m in cluster_running.members(root) if m["name"] == name), {})


def in_sync(root, name):
    """NAME follows the primary as its synchronous standby, running, less than a WAL segment behind in replay
    (under load Patroni's figure, sampled every loop, is rarely 0)."""
    found = member(root, name)
    return (found.get("role") == "sync_standby" and found.get("state") == "running"
            and isinstance(found.get("lag"), int) and found["lag"] < WAL_SEGMENT)


def wait_in_sync(root, name, seconds, what):
    """Wait until NAME is in sync; at the deadline, show the members and the tail of NAME's Patroni log."""
    try:
        wait_until(lambda: in_sync(root, name), seconds, what)
    except pytest.fail.Exception:
        print("members:", cluster_running.members(root))
        with open(os.path.join(root, name, "var", "log", "patroni.log"), errors="replace") as stream:
            print(f"{name}'s Patroni log, last lines:", *stream.readlines()[-60:], sep="\n")
        raise


def probe_table(root):
    """A table of our own on the primary for writes sent straight to PostgreSQL."""
    created = site_psql(root, cluster_running.primary(root), "CREATE TABLE IF NOT EXISTS failover_probe (note text)")
    assert created is not None, "the primary did not confirm a write within 30 s"
    assert created.returncode == 0, created.stdout
    return "failover_probe"


def every_save_is_there(root, visitors):
    missing = [path for path in visitors.saved if not visitors.site.exists(path)]
    assert visitors.saved and not missing, f"{len(missing)} of {len(visitors.saved)} confirmed saves are gone"


def test_the_database_has_a_primary_and_a_synchronous_replica(site):
    assert cluster_running.primary(site) == "app-master"
    wait_in_sync(site, "app-slave", 60, "app-slave in sync")
    status = run([os.path.join(site, "app-master", "bin", "database"), "status"], cwd="/").stdout
    assert "Leader" in status and "Sync Standby" in status


def test_app_master_killed_under_load(site):
    with Visitors(site) as visitors:
        time.sleep(LOAD_BEFORE)
        cut = time.monotonic()
        bin_cluster(site, "kill", "app-master")
        for server in ("web-1", "web-2", "app-slave"):
            SENT_WHILE_DOWN[server] = f"sent while the log server was down {uuid.uuid4().hex}"
            log(site, server, SENT_WHILE_DOWN[server])
        wait_until(lambda: cluster_running.primary(site) == "app-slave", 60, "app-slave promoted")
        # A deadline on the condition, not a timing: the pause is printed here and measured by bin/bench.
        wait_until(lambda: visitors.first_success_after("editor", cut), 60, "a save after the cut")
        time.sleep(LOAD_AFTER)
    resumed = visitors.first_success_after("editor", cut) - cut
    print(f"failover: writes resumed {resumed:.1f} s after the cut; {visitors.summary()}")
    print("failures (s after the cut):", ", ".join(visitors.failed_since(cut)))
    assert not visitors.failures("reader"), visitors.failures("reader")[:5]
    late = [outcome for outcome in visitors.failures() if outcome.started > cut + resumed]
    assert not late, f"failures after writes resumed: {late[:5]}"
    every_save_is_there(site, visitors)


def test_app_master_comes_back_as_a_replica_that_refuses_writes(site):
    bin_cluster(site, "up", "app-master")
    wait_in_sync(site, "app-master", 120, "app-master a synchronous replica again")
    assert cluster_running.primary(site) == "app-slave"
    refused = site_psql(site, "app-master", f"INSERT INTO {probe_table(site)} VALUES ('{uuid.uuid4().hex}')")
    assert refused.returncode != 0 and "read-only transaction" in refused.stdout, refused.stdout


def test_log_lines_sent_while_the_log_server_was_down_arrive_when_it_is_back(site):
    assert SENT_WHILE_DOWN, "the lines are sent while app-master is killed, by the test before"
    wanted = dict(SENT_WHILE_DOWN)  # each server's line, under the server's name
    quoted = ", ".join(f"'{line}'" for line in wanted.values())

    def arrived():
        return {host: message for host, message in sql(site, f"SELECT host, message FROM messages "
                                                             f"WHERE message IN ({quoted})", server="app-slave")}

    wait_until(lambda: arrived() == wanted, 120, "every line sent while the log server was down")


def test_a_switchover_under_load_moves_the_primary_back_without_a_failed_request(site):
    with Visitors(site) as visitors:
        time.sleep(LOAD_BEFORE)
        switch_to(site, "app-master")
        wait_in_sync(site, "app-slave", 120, "app-slave in sync")
        time.sleep(LOAD_AFTER)
    print(f"switchover: {visitors.summary()}")
    assert not visitors.failures(), visitors.failures()[:5]
    every_save_is_there(site, visitors)


def test_the_replica_killed_under_load_fails_only_what_it_had_in_hand(site):
    with Visitors(site) as visitors:
        time.sleep(LOAD_BEFORE)
        cut = time.monotonic()
        bin_cluster(site, "kill", "app-slave")
        wait_until(lambda: member(site, "app-slave") == {}, 60, "app-slave gone from the members")
        # A deadline on the condition, not a timing: the longest pause between saves is printed.
        wait_until(lambda: visitors.first_success_after("editor", cut), 60, "a save after the cut")
        time.sleep(LOAD_AFTER)
    gap = visitors.longest_gap("editor", cut - visitors.edit_every)
    print(f"replica lost: longest time between saves {gap:.1f} s; {visitors.summary()}")
    print("failures (s after the cut):", ", ".join(visitors.failed_since(cut)))
    # Only what app-slave's instances had in hand when it died may fail.
    assert all(outcome.started <= cut for outcome in visitors.failures()), visitors.failed_since(cut)
    every_save_is_there(site, visitors)
    bin_cluster(site, "up", "app-slave")
    wait_in_sync(site, "app-slave", 120, "app-slave in sync again")


def test_a_frozen_primary_is_replaced_and_confirms_no_write_when_thawed(site):
    ttl = int(cluster_running.settings(site, "patroni-settings")["ttl"])
    primaries, done = [], threading.Event()

    def watch():
        while not done.wait(0.2):
            primaries.append(sum(1 for name in ("app-master", "app-slave") if answers_primary(name)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    note, table = uuid.uuid4().hex, probe_table(site)
    with Visitors(site) as visitors:
        time.sleep(LOAD_BEFORE)
        bin_cluster(site, "freeze", "app-master")
        try:
            wait_until(lambda: cluster_running.primary(site) == "app-slave", ttl + 30, "app-slave promoted")
        finally:
            # Also when the wait fails or the run is interrupted: a frozen server outlives the test otherwise.
            bin_cluster(site, "thaw", "app-master")
        # Straight to the thawed old primary before Patroni has demoted it: never confirmed.
        late_write = site_psql(site, "app-master", f"INSERT INTO {table} VALUES ('{note}')")
        wait_in_sync(site, "app-master", 180, "app-master rejoined as a replica")
        time.sleep(LOAD_AFTER)
    done.set()
    watcher.join()
    print(f"freeze: {visitors.summary()}; primaries seen at once: {max(primaries)}")
    assert max(primaries) == 1
    assert late_write is None or late_write.returncode != 0, late_write.stdout
    present = site_psql(site, "app-slave", f"SELECT count(*) FROM {table} WHERE note = '{note}'")
    assert present.stdout.strip() == "0", present.stdout
    every_save_is_there(site, visitors)
    switch_to(site, "app-master")


def answers_primary(name):
    try:
        return cluster_running.patroni(name, "/primary")[0] == 200
    except OSError:
        return False
