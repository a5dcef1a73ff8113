"""bin/logs VIEW: print one view of the central log database as a table.

Read-only (surge.buildout.logdb); the views and what they answer come from
the schema file the build applies, so ``--help`` always lists what exists.
"""

import argparse

from surge.buildout.logdb import LogDatabase, LogDatabaseError, views_in


def main(*, psql, connection, database, user, secrets_file, secret, schema_file, argv=None):
    views = views_in(schema_file)
    listing = "\n".join(f"  {name:<32} {text}" for name, text in views.items())
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
    database = LogDatabase(psql=psql, connection=connection, database=database, user=user,
                           secrets_file=secrets_file, secret=secret)
    try:
        return database.print_query(f"SELECT * FROM {args.view} LIMIT {args.limit}")
    except LogDatabaseError as error:
        raise SystemExit(f"bin/logs: {error}") from None
