"""bin/postgres-provision: the site's roles, databases and schemas, on this server's PostgreSQL when it is the primary.

The build renders the psql script (etc/postgres-provision.sql, readable by
the database's user only: it holds the roles' passwords) and checks it on a
throwaway server. This program runs it over the local socket as the
database's superuser. Patroni runs it once it created the cluster
(post_bootstrap), and when PostgreSQL starts or changes role (callbacks),
with arguments of its own that are only logged; on a replica it does
nothing, since the primary's changes reach the replica by replication.
The build runs the same two steps on a running primary. ``--retire``
(bin/rotate-secret, once every server has a rotated password) also stops
the login the previous password belonged to.
"""

import subprocess
import sys


def psql(bin_directory, socket_dir, port, *arguments):
    return [f"{bin_directory}/psql", "-X", "-q", "-h", socket_dir, "-p", str(port), "-d", "postgres", *arguments]


def primary_here(run, bin_directory, socket_dir, port):
    """True when this server's PostgreSQL answers on its socket and is not in recovery (a replica)."""
    result = run(psql(bin_directory, socket_dir, port, "-A", "-t", "-c", "SELECT pg_is_in_recovery()"))
    return result.returncode == 0 and result.stdout.strip() == "f"


def apply(run, bin_directory, socket_dir, port, script, retire=False):
    """Run the provisioning SCRIPT (RETIRE: also the logins a rotated password left behind); its output;
    RuntimeError with psql's complaint when it fails."""
    result = run(psql(bin_directory, socket_dir, port, *(["-v", "retire=1"] if retire else []), "-f", script))
    if result.returncode:
        raise RuntimeError(f"{script} failed on this server's PostgreSQL:\n{result.stdout.strip()}")
    return result.stdout


def run_here(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)


def main(bin_dir, socket_dir, port, script, argv=None):
    called_with = " ".join(sys.argv[1:] if argv is None else argv)
    if not primary_here(run_here, bin_dir, socket_dir, port):
        print(f"postgres-provision: not the primary ({called_with or 'no arguments'}): nothing to do", flush=True)
        return 0
    arguments = sys.argv[1:] if argv is None else argv
    try:
        output = apply(run_here, bin_dir, socket_dir, port, script, retire="--retire" in arguments)
    except RuntimeError as error:
        print(f"postgres-provision: {error}", file=sys.stderr, flush=True)
        return 1
    for line in output.splitlines():
        print(f"postgres-provision: {line}", flush=True)
    print(f"postgres-provision: {script} applied ({called_with or 'no arguments'})", flush=True)
    return 0
