"""``bin/logs``' times (a date with or without its offset, a span ago) and what it refuses before asking the
database (a bad time, a window that ends before it starts, a view that does not exist).
"""

import datetime

import pytest

from conftest import repo_path
from surge.buildout.ops import logs

NOW = datetime.datetime(2026, 12, 3, 15, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("90m", NOW - datetime.timedelta(minutes=90)),
    ("2h", NOW - datetime.timedelta(hours=2)),
    ("3d", NOW - datetime.timedelta(days=3)),
    ("2026-12-02T14:00Z", datetime.datetime(2026, 12, 2, 14, 0, tzinfo=datetime.timezone.utc)),
    ("2026-12-02 15:00+01:00", datetime.datetime(2026, 12, 2, 14, 0, tzinfo=datetime.timezone.utc)),
])
def test_a_time_is_a_date_with_its_offset_or_a_span_ago(text, expected):
    assert logs.moment(text, now=NOW) == expected


def test_a_time_without_an_offset_is_local_time():
    local = logs.moment("2026-12-02 14:00", now=NOW)
    assert local.tzinfo is not None
    assert local.replace(tzinfo=None) == datetime.datetime(2026, 12, 2, 14, 0)


@pytest.mark.parametrize("arguments, message", [
    (["errors", "--since", "yesterday"], "is neither a date and time"),
    (["errors", "--since", "2h ago"], "is neither a date and time"),
    (["errors", "--since", "2026-12-02T15:00Z", "--until", "2026-12-02T14:00Z"], "is not before --until"),
    (["errors; DELETE FROM messages"], "invalid choice"),
])
def test_bad_arguments_are_refused_before_the_database_is_asked(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        logs.main(psql="/nonexistent/psql", connection="host=192.0.2.1", database="logs", user="logs",
                  secrets_file="/nonexistent", secret="postgres-logs-reader-password",
                  schema_file=repo_path("buildout.d", "sql", "logs.sql"), argv=arguments)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
