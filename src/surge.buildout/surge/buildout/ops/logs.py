"""bin/logs VIEW: print one view of the central log database as a table.

Read-only (surge.buildout.logdb); the views and what they answer come from
the schema file the build applies, so ``--help`` always lists what exists.
``--since`` and ``--until`` set the window every view reads (the schema's
window_start and window_end); without them a view covers its own default
span up to now.
"""

import argparse
import datetime
import re

from surge.buildout.logdb import LogDatabase, LogDatabaseError, views_in

AGO = re.compile(r"(\d+)([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def moment(text, now=None):
    """An aware datetime from TEXT: an ISO date and time (local time unless it names its
    offset or Z), or a span before NOW: 90m, 2h, 3d."""
    now = now or datetime.datetime.now().astimezone()
    ago = AGO.fullmatch(text.strip())
    if ago:
        return now - datetime.timedelta(**{UNITS[ago[2]]: int(ago[1])})
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a date and time (2026-12-02 14:00, 2026-12-02T14:00Z) nor a span ago "
            "(90m, 2h, 3d)") from None
    return value if value.tzinfo else value.astimezone()


def main(*, psql, connection, database, user, secrets_file, secret, schema_file, argv=None):
    views = views_in(schema_file)
    listing = "\n".join(f"  {name:<32} {text}" for name, text in views.items())
    parser = argparse.ArgumentParser(
        prog="bin/logs", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print a view of the central log database (read-only).",
        epilog=f"views:\n{listing}\n\nexamples:\n  bin/logs errors --limit 20\n"
               "  bin/logs what_broke --since '2026-12-02 13:45' --until '2026-12-02 14:15'\n"
               "  bin/logs responses_per_minute --since 2h --csv",
    )
    parser.add_argument("view", choices=sorted(views), metavar="VIEW", help="one of the views below")
    parser.add_argument("--limit", type=int, default=50, help="rows to print at most (default 50)")
    parser.add_argument("--since", type=moment, metavar="TIME",
                        help="the window's start: a date and time (local unless it names its offset) or a span "
                             "ago (90m, 2h, 3d); default: the view's own span before --until")
    parser.add_argument("--until", type=moment, metavar="TIME", help="the window's end (default: now)")
    parser.add_argument("--csv", action="store_true", help="print CSV with a header line instead of a table")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.since and args.until and args.since >= args.until:
        parser.error(f"--since {args.since.isoformat()} is not before --until {args.until.isoformat()}")
    window = {key: getattr(args, key).astimezone(datetime.timezone.utc).isoformat()
              for key in ("since", "until") if getattr(args, key)}
    database = LogDatabase(psql=psql, connection=connection, database=database, user=user,
                           secrets_file=secrets_file, secret=secret, window=window)
    try:
        return database.print_query(f"SELECT * FROM {args.view} LIMIT {args.limit}", as_csv=args.csv)
    except LogDatabaseError as error:
        raise SystemExit(f"bin/logs: {error}") from None
