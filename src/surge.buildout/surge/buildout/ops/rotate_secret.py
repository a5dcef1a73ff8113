"""bin/rotate-secret NAME: a new value for one secret, taken by every server that uses it, with the site up.

Run on any server, as root, whose root reaches every server through
``[remote-settings] shell`` (ssh with a key, in production). The servers
that use NAME are those whose build names it (``[secrets] names``, read
from each server's top-level file). In four steps, each on every one of
them before the next:

1. store: a new random value (32 URL-safe characters, of the other parity
   than the current one: ``build_secrets.login_name``) into each server's
   secrets file (``bin/rotate-secret --store NAME``, the value on standard
   input: never on a command line, which other local users can read);
2. build: each server rebuilds (every file checked before any changes).
   When NAME is a database role's password (``[postgres] roles``), the
   database's primary builds last: its build sets the role's new password
   (bin/postgres-provision). The site's role has two logins, and the new
   password goes to the one the old did not use, so every instance logs in
   whether it has the old or the new; for the other roles, a new connection
   needs the new password from then on, while the connections open before
   keep working (PostgreSQL checks a password when a connection opens);
3. apply: ``bin/apply`` on each server, in [topology] servers order: each
   daemon takes its changed files in its own safe way (the instances one at a
   time, Patroni by a reload);
4. take: when a server's fragments say the value must go somewhere a build
   does not reach, or something must follow once every server has it
   (``[secrets] takes``: ``NAME COMMAND...``: the Zope administrator's
   password into the database, the old site password's login stopped),
   each server that says so runs COMMAND with the value on standard input
   (``bin/rotate-secret --take NAME``), in turn.

A step that fails stops the rotation, naming the server and the output.
Failed while storing, nothing was built: run it again (a new value for
all). Failed later, every server's secrets file holds the new value, and
``--resume`` runs the build and apply steps again with it once the cause is
fixed.
"""

import argparse
import os
import secrets as random
import subprocess
import sys

from surge.buildout import build_secrets, secretsfile
from surge.buildout.ops.remote import RemoteError, Shell, servers
from surge.buildout.progress import sayer

say = sayer("rotate-secret")


def store(secrets_file, name, value):
    """NAME = VALUE in SECRETS_FILE, the file's other secrets kept; refused for a name it does not hold."""
    values = secretsfile.read(secrets_file)
    if name not in values:
        raise SystemExit(f"rotate-secret: {secrets_file} has no [secrets] {name}; nothing changed")
    if not value or value.strip() != value or len(value) < 16:
        raise SystemExit(f"rotate-secret: the value given for {name} is empty, short or padded; nothing changed")
    values[name] = value
    secretsfile.write(secrets_file, values, "The site's secrets (docs/secrets.rst); bin/rotate-secret rotates one.")


def build_order(users, name):
    """USERS with the database's primary last when NAME is one of its roles' passwords."""
    if not any(name in server.database_roles() for server in users):
        return users
    primary = [server for server in users if server.database_primary()]
    if len(primary) != 1:
        raise SystemExit(f"rotate-secret: {name} is a database role's password, and the primary among "
                         f"{', '.join(server.key for server in users)} cannot be told (bin/database status); "
                         "nothing changed")
    return [server for server in users if server is not primary[0]] + primary


class Stopped(Exception):
    """A step failed: the message says where, and how to go on."""


def new_value(current_parity):
    """A strong random value whose parity differs from the current value's: a site password of the other
    parity belongs to the other login, so the old login keeps working while the servers change over."""
    while True:
        value = random.token_urlsafe(24)
        if build_secrets.parity(value) != current_parity:
            return value


def rotate(shell, build, users, name, resume=False):
    order = build_order(users, name)
    if not resume:
        value = new_value(shell.run(users[0], f"bin/rotate-secret --parity {name}").strip())
        try:
            for server in users:
                shell.run(server, f"bin/rotate-secret --store {name}", input=value)
        except RemoteError as error:
            raise Stopped(f"{error}\nrotate-secret: nothing was built; some secrets files may hold the new "
                          f"value: run bin/rotate-secret {name} again (a new value for all)") from None
        say(f"stored: a new {name} on {', '.join(server.key for server in users)}")
    try:
        build_and_apply(shell, build, order, users, name)
    except RemoteError as error:
        raise Stopped(f"{error}\nrotate-secret: every server named holds the new value; after the fix, run "
                      f"bin/rotate-secret {name} --resume") from None
    say(f"done: {name} rotated on {', '.join(server.key for server in users)}")


def takes_of(text):
    """{secret name: command words} of [secrets] takes."""
    return {words[0]: words[1:] for words in (line.split() for line in text.splitlines()) if len(words) > 1}


def take(secrets_file, takes, name):
    """Run this server's take command for NAME with the value from its secrets file on standard input."""
    command = takes_of(takes).get(name)
    if not command:
        raise SystemExit(f"rotate-secret: this server has no [secrets] takes line for {name}")
    result = subprocess.run(command, input=secretsfile.value(secrets_file, name), text=True)
    return result.returncode


def build_and_apply(shell, build, order, users, name):
    for server in order:
        say(f"building {server.key}")
        shell.run(server, build)
        say(f"built: {server.key}")
    for server in users:
        for line in shell.run(server, "bin/apply").splitlines():
            if line.startswith("apply: ") and " changed: " not in line:
                say(f"applied on {server.key}: {line[len('apply: '):]}")
    for server in users:
        if name in takes_of(server.config["secrets"].get("takes", "")):
            for line in shell.run(server, f"bin/rotate-secret --take {name}").splitlines():
                say(f"taken on {server.key}: {line}")


def main(*, secrets_file, takes, directory, topology, shell, remote_directory, build, argv=None):
    parser = argparse.ArgumentParser(prog="bin/rotate-secret", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the secret, as the secrets file names it (docs/secrets.rst)")
    parser.add_argument("--resume", action="store_true",
                        help="build and apply again with the value already stored (after a failed step)")
    parser.add_argument("--store", action="store_true",
                        help="only write the value read from standard input into this server's secrets file")
    parser.add_argument("--parity", action="store_true",
                        help="only print the parity (a or b) of this server's value: the new one differs")
    parser.add_argument("--take", action="store_true",
                        help="only run this server's [secrets] takes command with the value of its secrets file")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        raise SystemExit("rotate-secret: run me as root: I rewrite the secrets file and rebuild")
    if args.store:
        store(secrets_file, args.name, sys.stdin.read().strip())
        return 0
    if args.take:
        return take(secrets_file, takes, args.name)
    if args.parity:
        print(build_secrets.parity(secretsfile.value(secrets_file, args.name)))
        return 0
    users = [server for server in servers(directory, topology) if server.names_secret(args.name)]
    if not users:
        raise SystemExit(f"rotate-secret: no server of the site names the secret {args.name} ([secrets] names)")
    try:
        rotate(Shell(shell, remote_directory), build, users, args.name, resume=args.resume)
    except Stopped as error:
        raise SystemExit(f"rotate-secret: stopped: {error}") from None
    return 0
