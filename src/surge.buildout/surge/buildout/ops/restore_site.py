"""bin/restore-site DUMP: put a backup of the site's database in place of the running one, keeping the current
data aside until the restored site answers.

Run it on the database's primary, as root. In order, each step said as it
starts:

1. restore DUMP into a new database beside the site's (``SITE_restoring``),
   in one transaction; the site goes on serving meanwhile;
2. stop the Zope instances on every app server (through
   ``[remote-settings]``): from here until step 6, visitors get Varnish's
   cached pages and the panic page, and nobody can edit;
3. rename the site's database to ``SITE_before_YYYYmmddTHHMMSSZ`` and the
   restored one to the site's (the other connections to it closed first:
   a backup being dumped);
4. empty every app server's memcached: it holds RelStorage's cache of the
   database that was just put aside (and the sessions, which are lost);
5. start the instances again and wait until the site answers on this
   server's first instance;
6. ban every page from every web server's Varnish, so visitors get the
   restored site, not the cached one, and wait until each one's Varnish
   answers the site: its health probe sees the instances again a few
   seconds after they answer.

If the restored site does not answer within ANSWER_SECONDS, the step back is
automatic: the instances stop, the restored database is renamed
``SITE_failed_...``, the one put aside gets the site's name again, and the
instances start on it. Either way nothing is deleted: the message names the
database kept aside, for you to drop when sure (it holds the edits made
since the backup).
"""

import argparse
import datetime
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from surge.buildout.ops.backup import as_postgres
from surge.buildout.ops.remote import RemoteError, Shell, servers
from surge.buildout.progress import sayer

say = sayer("restore-site", timestamps=True)
# Seconds the restored site has to answer before the step back.
ANSWER_SECONDS = 300


class Database:
    """psql as the database's user over this server's socket."""

    def __init__(self, bin_dir, user, socket_dir, port):
        self.bin_dir, self.user, self.socket_dir, self.port = bin_dir, user, socket_dir, port

    def command(self, program, database="postgres"):
        return as_postgres(self.user, [f"{self.bin_dir}/{program}", "-h", self.socket_dir, "-p", str(self.port),
                                       "-d", database])

    def sql(self, query):
        result = subprocess.run([*self.command("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if result.returncode:
            raise SystemExit(f"restore-site: {query.split()[0]} failed: {result.stdout.strip()}")
        return result.stdout.strip()

    def exists(self, name):
        return self.sql(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "1"

    def rename(self, old, new):
        self.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{old}' "
                 "AND pid <> pg_backend_pid()")
        self.sql(f'ALTER DATABASE "{old}" RENAME TO "{new}"')


def restore_beside(database, dump, target, owner):
    """DUMP into the new database TARGET, owned by OWNER, in one transaction."""
    if database.exists(target):
        raise SystemExit(f"restore-site: a database {target} exists (a restore that stopped?): drop it or rename "
                         "it first; nothing changed")
    database.sql(f'CREATE DATABASE "{target}" OWNER "{owner}"')
    with open(dump, "rb") as stream:
        result = subprocess.run([*database.command("pg_restore", target), "--single-transaction", "--exit-on-error",
                                 "--no-owner", "--role", owner], stdin=stream, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        database.sql(f'DROP DATABASE "{target}"')
        raise SystemExit(f"restore-site: nothing changed: {dump} did not restore: {result.stdout.strip()}")


def empty_memcached(app_servers):
    for server in app_servers:
        address, port = server.address, int(server.config["ports"]["memcached"])
        with socket.create_connection((address, port), timeout=10) as connection:
            connection.sendall(b"flush_all\r\n")
            answer = connection.recv(64)
        if not answer.startswith(b"OK"):
            raise SystemExit(f"restore-site: memcached of {server.key} answered {answer!r} to flush_all")


def ban_everything(web_servers):
    for server in web_servers:
        with urllib.request.urlopen(urllib.request.Request(varnish_url(server, "/"), method="BAN"),
                                    timeout=10) as answer:
            if answer.status != 200:
                raise SystemExit(f"restore-site: Varnish of {server.key} answered {answer.status} to BAN")


def varnish_url(server, path):
    return f"http://{server.address}:{server.config['ports']['varnish']}{path}"


def answers(url, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def instances(shell, app_servers, verb):
    """supervisorctl VERB (start or stop) of the instances on each app server."""
    for server in app_servers:
        shell.run(server, f"bin/supervisorctl {verb} 'instance:*'")
        say(f"instances {'stopped' if verb == 'stop' else 'started'} on {server.key}")


def main(*, bin_dir, user, socket_dir, port, site_database, owner, site_url, directory, topology, shell,
         remote_directory, argv=None):
    parser = argparse.ArgumentParser(prog="bin/restore-site", description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", help="a .dump of the site's database made by bin/backup")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("restore-site: run me as root: I stop and start the instances of every app server")
    if not os.path.isfile(args.dump):
        parser.error(f"{args.dump} does not exist")
    database = Database(bin_dir, user, socket_dir, port)
    if database.sql("SELECT pg_is_in_recovery()") != "f":
        raise SystemExit("restore-site: this server's PostgreSQL is a replica; run me on the primary "
                         "(bin/database status names it); nothing changed")
    every = servers(directory, topology)
    app_servers = [server for server in every if server.key in topology["app-servers"].split()]
    web_servers = [server for server in every if server.key in topology["web-servers"].split()]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    restoring, before = f"{site_database}_restoring", f"{site_database}_before_{stamp}"
    say(f"restoring {args.dump} into {restoring}, beside {site_database} (the site serves meanwhile)")
    restore_beside(database, args.dump, restoring, owner)
    remote = Shell(shell, remote_directory)
    try:
        instances(remote, app_servers, "stop")
        database.rename(site_database, before)
        database.rename(restoring, site_database)
        say(f"{site_database} is the restored one; the previous is kept as {before}")
        empty_memcached(app_servers)
        say("memcached emptied on " + ", ".join(server.key for server in app_servers))
        instances(remote, app_servers, "start")
    except RemoteError as error:
        raise SystemExit(f"restore-site: stopped: {error}\nrestore-site: the previous database is "
                         f"{before if database.exists(before) else site_database}; start the instances by hand "
                         "once the cause is fixed") from None
    if not answers(site_url, ANSWER_SECONDS):
        failed = f"{site_database}_failed_{stamp}"
        say(f"the restored site did not answer {site_url} within {ANSWER_SECONDS} s: going back")
        instances(remote, app_servers, "stop")
        database.rename(site_database, failed)
        database.rename(before, site_database)
        empty_memcached(app_servers)
        instances(remote, app_servers, "start")
        raise SystemExit(f"restore-site: back on the previous database; the restored one is kept as {failed}")
    ban_everything(web_servers)
    say("every web server's Varnish banned its pages")
    path = urllib.parse.urlsplit(site_url).path
    waiting = [server.key for server in web_servers if not answers(varnish_url(server, path), ANSWER_SECONDS)]
    if waiting:
        raise SystemExit(f"restore-site: the site answers from {args.dump} on the app servers, but not through "
                         f"the Varnish of {', '.join(waiting)} within {ANSWER_SECONDS} s (bin/supervisorctl status "
                         f"there). The previous database is kept as {before}")
    say("every web server's Varnish answers the site")
    say(f"done: the site answers from {args.dump}. The previous database is kept as {before} with the edits "
        f"made since the backup; drop it when sure: DROP DATABASE \"{before}\"")
    return 0
