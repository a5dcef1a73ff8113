"""bin/logs VIEW: print one view of the central log database as a table.

Read-only: the session runs with default_transaction_read_only, so no view,
typo or injection can change the logs. The views and what they answer come
from the ``COMMENT ON VIEW`` lines of the schema file the build applies
(buildout.d/sql/logs.sql), so ``--help`` always lists what exists.
"""

import argparse
import os
import re
import subprocess
import sys

from surge.buildout import secretsfile

COMMENT = re.compile(r"^COMMENT ON VIEW (\w+) IS '((?:[^']|'')*)';", re.M)


def views_in(schema_file):
    """{view: description} of the schema file."""
    with open(schema_file) as stream:
        return {name: text.replace("''", "'") for name, text in COMMENT.findall(stream.read())}


def read_secret(secrets_file, name):
    try:
        return secretsfile.value(secrets_file, name)
    except secretsfile.SecretsFileError as error:
        raise SystemExit(f"bin/logs: {error} (run me as the user who builds)") from None


def main(*, psql, host, port, database, user, secrets_file, secret, schema_file, argv=None):
    views = views_in(schema_file)
    listing = "\n".join(f"  {name:<28} {text}" for name, text in views.items())
    parser = argparse.ArgumentParser(
        prog="bin/logs", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print a view of the central log database (read-only).",
        epilog=f"views:\n{listing}\n\nexample: bin/logs errors_24h --limit 20",
    )
    parser.add_argument("view", choices=sorted(views), metavar="VIEW", help="one of the views below")
    parser.add_argument("--limit", type=int, default=50, help="rows to print at most (default 50)")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    env = dict(os.environ, PGPASSWORD=read_secret(secrets_file, secret),
               PGOPTIONS="-c default_transaction_read_only=on", PGCONNECT_TIMEOUT="10")
    command = [psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(port), "-U", user, "-d", database,
               "-c", f"SELECT * FROM {args.view} LIMIT {args.limit}"]
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:9]))
