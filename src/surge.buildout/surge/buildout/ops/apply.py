"""bin/apply: after a rebuild, make every daemon whose rendered files changed take them, each in its own
safe way, and nothing else.

The fragments name, for each file a daemon reads, how that daemon takes a
new one (``[apply] actions``: ``FILE ACTION ARGUMENTS...``):

``signal PROGRAM SIGNAL``
    supervisorctl signal (nginx HUP: new workers, the old ones finish their
    requests; HAProxy USR2: the master starts a new worker on the same
    sockets).
``restart PROGRAM``
    supervisorctl restart, for a daemon that reloads nothing (rsyslog: its
    queues are saved to disk on the way down).
``vcl VARNISHADM ADMIN SECRET``
    Varnish compiles the new VCL beside the running one and switches to it
    (varnishadm vcl.load, vcl.use); the cache stays.
``patroni PROGRAM PATRONICTL CONFIG``
    Patroni reloads its configuration and PostgreSQL's (supervisorctl signal
    HUP: unlike patronictl reload, this works when the REST API's own
    password is what changed); PostgreSQL restarts only when a changed
    parameter needs it (patronictl restart --pending of this member, its name
    and scope read from CONFIG, patroni.yml: the instances' retries carry
    their requests over it). On a replica whose replication password changed,
    Patroni itself restarts instead (supervisorctl restart): Patroni keeps
    the old password in the replica's pgpass until it starts PostgreSQL
    again, and a restart through the REST API right after a reload may still
    use the old configuration.
``supervisor``
    supervisorctl reread, then update of the changed programs only; the Zope
    instances' program is refused (update restarts all of them at once):
    ``--instances-at-once`` accepts that.
``rolling ROLLING-RESTART``
    bin/rolling-restart: each instance drained, restarted, warmed, put back.
``firewall FIREWALL``
    bin/firewall loads the ruleset.

What changed is what differs from the record of the last apply
(var/applied.json: each file's SHA-256). ``bin/apply --record`` records
every file as it is, without doing anything: the systemd unit and bin/cluster
run it just before supervisord starts, since every daemon then reads its
files anew. A file with no record counts as changed when it is newer than
supervisord's start. The record is written after each action succeeded, so a
failed apply is run again after the fix.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

# Each action and the arguments it takes.
ACTIONS = {"signal": 2, "restart": 1, "vcl": 3, "patroni": 3, "supervisor": 0, "rolling": 1, "firewall": 1}
INSTANCES = "instance"
# Seconds to wait for PostgreSQL to say a changed parameter needs a restart.
PENDING_SECONDS = 12
# Seconds a replica whose Patroni restarted has to stream again.
REPLICA_BACK_SECONDS = 120


class ApplyError(Exception):
    """An action failed: the message says which and how."""


def parse_actions(text):
    """[(file, action, arguments)] of the [apply] actions lines; ValueError naming a bad line."""
    actions = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if len(words) < 2 or words[1] not in ACTIONS or len(words) - 2 != ACTIONS[words[1]]:
            raise ValueError(f"[apply] actions: {line.strip()!r} is not FILE ACTION ARGUMENTS... (ACTION and how "
                             f"many arguments it takes: {', '.join(f'{a} {n}' for a, n in ACTIONS.items())})")
        actions.append((words[0], words[1], words[2:]))
    return actions


def digest(path):
    try:
        with open(path, "rb") as stream:
            return hashlib.sha256(stream.read()).hexdigest()
    except FileNotFoundError:
        return None


def read_record(path):
    try:
        with open(path) as stream:
            return json.load(stream)
    except FileNotFoundError:
        return {}


def write_record(path, record):
    staged = path + ".new"
    with open(staged, "w") as stream:
        json.dump(record, stream, indent=1, sort_keys=True)
    os.replace(staged, path)


class Applier:
    def __init__(self, *, supervisorctl, supervisord_pid, instances_at_once=False):
        self.supervisorctl, self.supervisord_pid = supervisorctl, supervisord_pid
        self.instances_at_once = instances_at_once

    def run(self, command, what):
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode:
            raise ApplyError(f"{what}: {' '.join(command)} exited {result.returncode}:\n{result.stdout.strip()}")
        return result.stdout

    def started(self):
        """When supervisord started (its pid file's time): files older than that are what runs."""
        try:
            return os.stat(self.supervisord_pid).st_mtime
        except FileNotFoundError:
            raise ApplyError(f"supervisord does not run ({self.supervisord_pid} is missing): start the server "
                             "with bin/supervisord; it reads every file as it starts") from None

    def signal(self, path, program, signal):
        self.run([self.supervisorctl, "signal", signal, program], f"{program} ({signal})")
        return f"{program} reloaded ({signal})"

    def restart(self, path, program):
        self.run([self.supervisorctl, "restart", program], f"restarting {program}")
        return f"{program} restarted"

    def vcl(self, path, varnishadm, admin, secret):
        name = f"surge_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
        command = [varnishadm, "-T", admin, "-S", secret]
        self.run([*command, "vcl.load", name, path], "Varnish compiling the new VCL")
        self.run([*command, "vcl.use", name], "Varnish switching to the new VCL")
        # Keep the running one and the one before it, for vcl.use by hand.
        listing = self.run([*command, "vcl.list"], "Varnish listing its VCLs")
        names = [line.split()[-1] for line in listing.splitlines() if line.startswith("available")]
        for old in names[:-1]:
            self.run([*command, "vcl.discard", old], f"Varnish discarding {old}")
        return f"Varnish switched to {name}"

    def patroni(self, path, program, patronictl, config):
        scope, member = (self.patroni_value(config, key) for key in ("scope", "name"))
        base = [patronictl, "-c", config]
        if self.role(base, scope, member) != "Leader" and self.stale_stream_password(config):
            # A replica streams with the password Patroni wrote into its pgpass when PostgreSQL started, and a
            # reload leaves it there: the next reconnect would be refused. Patroni restarted (a replica's holds
            # no leader lock) reads the new configuration before it starts PostgreSQL and writes the new one;
            # a reload then a restart through the REST API could restart it with the old configuration.
            self.run([self.supervisorctl, "restart", program], "Patroni restarting")
            deadline = time.monotonic() + REPLICA_BACK_SECONDS
            while not self.streaming(base, scope, member):
                if time.monotonic() > deadline:
                    raise ApplyError(f"{member} did not stream again within {REPLICA_BACK_SECONDS} s after "
                                     "Patroni restarted: bin/database status")
                time.sleep(2)
            return f"Patroni and PostgreSQL of {member} restarted (its replication password changed)"
        self.run([self.supervisorctl, "signal", "HUP", program], "Patroni reloading")
        # PostgreSQL flags a changed parameter that needs a restart once it has reloaded.
        deadline = time.monotonic() + PENDING_SECONDS
        while not self.pending_restart(base, scope, member):
            if time.monotonic() > deadline:
                return f"PostgreSQL of {member} reloaded"
            time.sleep(2)
        self.run([*base, "restart", scope, member, "--pending", "--force"], "Patroni restarting PostgreSQL")
        return f"PostgreSQL of {member} reloaded and restarted (a changed parameter needs it)"

    def members(self, base, scope):
        listing = self.run([*base, "list", "--format", "json", scope], "Patroni listing its members")
        return {row.get("Member"): row for row in json.loads(listing)}

    def role(self, base, scope, member):
        """MEMBER's role (Leader, Sync Standby, Replica), or None when Patroni does not list it."""
        return self.members(base, scope).get(member, {}).get("Role")

    def streaming(self, base, scope, member):
        """True when MEMBER is a running replica caught up with the primary."""
        row = self.members(base, scope).get(member, {})
        return row.get("Role") != "Leader" and row.get("State") in ("running", "streaming") and \
            row.get("Lag in MB") == 0

    def pending_restart(self, base, scope, member):
        return bool(self.members(base, scope).get(member, {}).get("Pending restart"))

    @staticmethod
    def stale_stream_password(config):
        """True when this member's pgpass (written when it last started as a replica; a primary may keep one
        from then) holds another replication password than CONFIG."""
        with open(config) as stream:
            text = stream.read()
        pgpass = re.search(r"^\s+pgpass:\s*(\S.*)$", text, re.M)
        password = re.search(r"^\s+replication:\n\s+username:.*\n\s+password:\s*(\S.*)$", text, re.M)
        if not (pgpass and password):
            raise ApplyError(f"{config} has no pgpass or no replication password")
        try:
            with open(json.loads(pgpass[1])) as stream:
                stored = [line.split(":", 4)[-1] for line in stream.read().splitlines() if line.count(":") >= 4]
        except FileNotFoundError:
            return False  # never started as a replica
        return any(value != json.loads(password[1]) for value in stored)

    @staticmethod
    def patroni_value(config, key):
        """A top-level KEY of patroni.yml (the template writes it as a JSON string)."""
        with open(config) as stream:
            found = re.search(rf"^{key}:\s*(\S.*)$", stream.read(), re.M)
        if not found:
            raise ApplyError(f"{config} has no {key}")
        return json.loads(found[1])

    def supervisor(self, path):
        changes = self.run([self.supervisorctl, "reread"], "supervisord rereading its configuration")
        groups = re.findall(r"^(\S+): (?:changed|available|disappeared)$", changes, re.M)
        if INSTANCES in groups and not self.instances_at_once:
            raise ApplyError("the Zope instances' program changed: supervisord restarts all of this server's "
                             "instances at once to take it; with the other app server serving, run bin/apply "
                             "--instances-at-once")
        if groups:
            self.run([self.supervisorctl, "update", *groups], "supervisord updating its programs")
        return f"supervisord updated {', '.join(groups)}" if groups else "supervisord: no program changed"

    def rolling(self, path, rolling_restart):
        self.run([rolling_restart], "the instances' rolling restart")
        return "instances restarted one at a time"

    def firewall(self, path, firewall):
        self.run([firewall], "loading the firewall")
        return "firewall loaded"

    @staticmethod
    def record_all(actions, record_path):
        record = {path: digest(path) for path, _, _ in actions if digest(path)}
        write_record(record_path, record)
        print(f"apply: {len(record)} files recorded as what the daemons run")
        return 0

    def apply(self, actions, record_path, dry_run=False):
        record, started = read_record(record_path), None
        changed = []
        for path, action, arguments in actions:
            now = digest(path)
            if now is None:
                continue
            if path in record:
                if record[path] == now:
                    continue
            else:
                started = started if started is not None else self.started()
                if os.stat(path).st_mtime <= started:
                    record[path] = now
                    continue
            changed.append((path, action, arguments, now))
        if not changed:
            write_record(record_path, record)
            print("apply: no file changed since the last apply; nothing to do")
            return 0
        # One action per daemon, even when several of its files changed.
        done = {}
        for path, action, arguments, now in changed:
            key = (action, tuple(arguments))
            if key not in done:
                print(f"apply: {os.path.relpath(path)} changed: {action} {' '.join(arguments)}".rstrip(), flush=True)
                if not dry_run:
                    done[key] = getattr(self, action)(path, *arguments)
                    print(f"apply: {done[key]}", flush=True)
                else:
                    done[key] = "dry run"
            if not dry_run:
                record[path] = now
                write_record(record_path, record)
        return 0


def main(*, actions, record, supervisorctl, supervisord_pid, argv=None):
    parser = argparse.ArgumentParser(prog="bin/apply", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="say what changed and what would be done")
    parser.add_argument("--record", action="store_true",
                        help="record every file as applied, do nothing (before supervisord starts)")
    parser.add_argument("--instances-at-once", action="store_true",
                        help="accept that a change to the instances' program restarts all of them at once")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    applier = Applier(supervisorctl=supervisorctl, supervisord_pid=supervisord_pid,
                      instances_at_once=args.instances_at_once)
    try:
        if args.record:
            return applier.record_all(parse_actions(actions), record)
        return applier.apply(parse_actions(actions), record, dry_run=args.dry_run)
    except (ApplyError, ValueError) as error:
        raise SystemExit(f"apply: {error}\napply: what was applied before is recorded; run bin/apply again "
                         "after the fix") from None
