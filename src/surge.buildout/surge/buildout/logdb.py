"""The central log database, read-only, for bin/logs and bin/logs-report.

They log in as the role that may read the views and nothing else
(logs_reader: buildout.d/sql/logs.sql), so no view, typo or injection can
change the logs; every session is read-only by default as well. The views
and what they answer come from the ``COMMENT ON VIEW`` lines of the schema
file the build applies, so the programs always list what exists.
"""

import csv
import io
import os
import re
import subprocess

from surge.buildout import secretsfile

COMMENT = re.compile(r"^COMMENT ON VIEW (\w+) IS '((?:[^']|'')*)';", re.M)


class LogDatabaseError(Exception):
    """The database could not be read: the message says why."""


def views_in(schema_file):
    """{view: description} of the schema file, in the file's order."""
    with open(schema_file) as stream:
        return {name: text.replace("''", "'") for name, text in COMMENT.findall(stream.read())}


class LogDatabase:
    """Where the log database is and how to log in: psql's command and environment.

    CONNECTION is libpq's parameters for the database servers ([roles]
    database). A reader prefers a replica (it spares the primary, and a
    session that is read-only by default is one libpq would never take for
    the primary it asks for); with none, the primary serves.
    """

    def __init__(self, *, psql, connection, database, user, secrets_file, secret, window=None):
        self.command = [psql, "-X", "-v", "ON_ERROR_STOP=1", "-d",
                        f"{connection} target_session_attrs=prefer-standby dbname={database} user={user}"]
        self.secrets_file, self.secret = secrets_file, secret
        # The views' window (since, until: ISO times without spaces), as the session's surge.* settings.
        self.options = ["-c default_transaction_read_only=on",
                        *(f"-c surge.{key}={value}" for key, value in sorted((window or {}).items()))]

    def environment(self):
        try:
            password = secretsfile.value(self.secrets_file, self.secret)
        except secretsfile.SecretsFileError as error:
            raise LogDatabaseError(f"{error} (run me as the user who builds)") from None
        return dict(os.environ, PGPASSWORD=password, PGOPTIONS=" ".join(self.options), PGCONNECT_TIMEOUT="10")

    def print_query(self, query, as_csv=False):
        """Print QUERY's rows as psql's table (or CSV); psql's exit code."""
        return subprocess.run([*self.command, *(["--csv"] if as_csv else []), "-c", query],
                              env=self.environment()).returncode

    def rows(self, query):
        """QUERY's rows as dicts of strings (column: value)."""
        result = subprocess.run([*self.command, "--csv", "-c", query], env=self.environment(),
                                capture_output=True, text=True)
        if result.returncode:
            raise LogDatabaseError(f"psql exited {result.returncode}: {result.stderr.strip()}")
        return list(csv.DictReader(io.StringIO(result.stdout)))
