"""bin/backup and bin/restore: dumps of the site's databases, on every database server.

bin/backup dumps each database of this server's PostgreSQL, primary or
replica (a replica holds every confirmed commit: replication is
synchronous), so every database server keeps its own copies and the backups
go on after a failover. It writes pg_dump's custom format into
BACKUPS/DATABASE/DATABASE-YYYYmmddTHHMMSSZ.dump: written beside under a
temporary name and renamed when complete, so a dump that is there is whole.
It then keeps the newest KEEP dumps of each database. ``--every HOURS`` runs
forever, a dump every HOURS hours: supervisord runs it that way; a dump that
fails there (PostgreSQL not up yet, or being switched over) is logged and
tried again a minute later.

bin/restore DATABASE FILE restores a dump into the database of this
server's PostgreSQL, which must be the primary (replication carries the
restore to the replicas) and whose database must be empty (a fresh cluster)
unless ``--replace`` is given; one transaction, so a failed restore leaves
the database as it was.

Both run the PostgreSQL programs as the database's system user over its
local socket.
"""

import argparse
import datetime
import glob
import os
import pwd
import subprocess
import time

from surge.buildout.progress import sayer

# The log line bin/backup --every ends a round with; what waits for a round to be done looks for it.
WAITING = "backup: next in"


def as_postgres(user, argv):
    if pwd.getpwuid(os.geteuid()).pw_name == user or os.geteuid() != 0:
        return argv
    return ["runuser", "-u", user, "--", *argv]


say = sayer(timestamps=True)
# How long a failed dump waits before the next try (supervisord's runs only).
RETRY_SECONDS = 60


def dump(bin_dir, user, socket_dir, port, database, folder):
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    final = os.path.join(folder, f"{database}-{stamp}.dump")
    partial = final + ".partial"
    started = time.monotonic()
    result = subprocess.run(as_postgres(user, [f"{bin_dir}/pg_dump", "-h", socket_dir, "-p", str(port), "-Fc",
                                               "-f", partial, database]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        if os.path.exists(partial):
            os.remove(partial)
        raise SystemExit(f"bin/backup: pg_dump of {database} failed: {result.stdout.strip()}")
    os.rename(partial, final)
    say(f"backup: {database} -> {final} ({os.path.getsize(final) // 1024} KiB in "
        f"{time.monotonic() - started:.1f} s)")
    return final


def prune(folder, database, keep):
    dumps = sorted(glob.glob(os.path.join(folder, f"{database}-*.dump")))
    for old in dumps[:-keep]:
        os.remove(old)
        say(f"backup: removed {old} (keeping the newest {keep})")


def backup_main(*, bin_dir, user, socket_dir, port, backups, databases, keep, argv=None):
    parser = argparse.ArgumentParser(prog="bin/backup", description=(
        f"Dump the databases {databases} into {backups}, keeping the newest {keep} of each."))
    parser.add_argument("--every", type=float, metavar="HOURS", help="run forever, a backup every HOURS hours")
    args = parser.parse_args(argv)
    while True:
        try:
            for database in databases.split():
                folder = os.path.join(backups, database)
                dump(bin_dir, user, socket_dir, port, database, folder)
                prune(folder, database, int(keep))
        except SystemExit as failure:
            if not args.every:
                raise
            say(f"{failure}; trying again in {RETRY_SECONDS} s")
            time.sleep(RETRY_SECONDS)
            continue
        if not args.every:
            return 0
        say(f"{WAITING} {args.every:g} h")
        time.sleep(args.every * 3600)


def restore_main(*, bin_dir, user, socket_dir, port, owners, argv=None):
    """OWNERS: "DATABASE=ROLE ..."; restored objects belong to the database's owner."""
    owners = dict(pair.split("=", 1) for pair in owners.split())
    parser = argparse.ArgumentParser(prog="bin/restore", description=(
        "Restore a dump made by bin/backup into this server's database of that name, in one transaction."))
    parser.add_argument("database", choices=sorted(owners))
    parser.add_argument("dump", help="a .dump file from the backup folder")
    parser.add_argument("--replace", action="store_true",
                        help="drop what the database holds first (default: refuse a database with tables)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.dump):
        parser.error(f"{args.dump} does not exist")
    psql = as_postgres(user, [f"{bin_dir}/psql", "-X", "-A", "-t", "-F", " ", "-h", socket_dir, "-p", str(port),
                              "-d", args.database, "-c", "SELECT pg_is_in_recovery(), "
                              "(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"])
    found = subprocess.run(psql, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if found.returncode:
        raise SystemExit(f"bin/restore: cannot reach database {args.database}: {found.stdout.strip()}")
    replica, tables = found.stdout.split()
    if replica == "t":
        raise SystemExit("bin/restore: this server's PostgreSQL is a replica; restore on the primary "
                         "(bin/database status names it), which replicates the restore")
    if int(tables) and not args.replace:
        raise SystemExit(f"bin/restore: database {args.database} already has tables; restore into a fresh "
                         "cluster, or give --replace to drop them first")
    started = time.monotonic()
    command = [f"{bin_dir}/pg_restore", "-h", socket_dir, "-p", str(port), "-d", args.database,
               "--single-transaction", "--exit-on-error", "--no-owner", "--role", owners[args.database]]
    if args.replace:
        command += ["--clean", "--if-exists"]
    # The file is read by root and piped: the postgres user need not reach it.
    with open(args.dump, "rb") as stream:
        result = subprocess.run(as_postgres(user, command), stdin=stream, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        raise SystemExit(f"bin/restore: nothing was restored: {result.stdout.strip()}")
    say(f"restore: {args.dump} -> {args.database} in {time.monotonic() - started:.1f} s")
    return 0
