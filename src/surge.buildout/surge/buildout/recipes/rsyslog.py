"""Recipe surge.buildout:rsyslog: rsyslog.conf with the files and noise the fragments list.

A surge.buildout:template (``settings = rsyslog-settings``) whose options
also include:

files
    One log file per line: ``TAG PATH`` or ``TAG PATH multiline`` (messages
    start with a date and may go on over several lines).
drop
    One per line: ``TAG TEXT``: a message of that program containing TEXT is
    not forwarded.

receive, listen
    ``true`` on the log server, which receives every server's messages on
    ``listen`` (its [listen] entry).
database, database-name, database-user
    On the log server: libpq's parameters for the database servers ([roles]
    database), the logs database and the role that inserts into it (its
    password is the one secret the option ``secrets`` names).

Derived for the template: ``host_name``, this server's name in [topology]
servers (web-1), which the log database's host column shows;
``files``, a list of {"tag", "path", "multiline"},
``drops``, a list of {"tag", "text"}, ``receive_host``, ``receive_port``
and ``database_uri`` (ompgsql takes a connection without spaces: libpq's
URI form). A line of another shape fails the
build naming the option; so does a quote, which would end rsyslog's string.
"""

from surge.buildout import roles
from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.network import split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import RSYSLOG_SIZE, RSYSLOGD, Schema, Setting

SETTINGS = Schema("rsyslog-settings", {
    "binary": Setting(RSYSLOGD),
    # rsyslog reads 0 as no limit on the disk.
    "queue-disk-space": Setting(RSYSLOG_SIZE.at_least("1m", "the queue would keep next to nothing, and 0 means "
                                                            "no limit on the disk")),
})


class Rsyslog(Template):
    schema = SETTINGS

    def derive(self):
        problems, files, drops = [], [], []
        for line in self.lines("files"):
            words = line.split()
            if len(words) not in (2, 3) or words[2:] not in ([], ["multiline"]):
                problems.append(f"{where(self.buildout, self.name, 'files')}: {line!r} is not TAG PATH [multiline]")
            else:
                files.append({"tag": words[0], "path": words[1], "multiline": words[2:] == ["multiline"]})
        for line in self.lines("drop"):
            words = line.split(None, 1)
            if len(words) != 2:
                problems.append(f"{where(self.buildout, self.name, 'drop')}: {line!r} is not TAG TEXT")
            else:
                drops.append({"tag": words[0], "text": words[1]})
        problems.extend(
            f"{where(self.buildout, self.name, key)}: {line!r} contains a quote"
            for key in ("files", "drop") for line in self.lines(key) if '"' in line
        )
        fail(problems)
        receive_host, receive_port = split_bind(self.options.get("listen", ""))
        database_uri = ""
        if self.options.get("database"):
            if len(self.secrets) != 1:
                raise ConfigError(f"{where(self.buildout, self.name, 'secrets')} must name one secret: the "
                                  "password of database-user")
            (password,) = self.secrets.values()
            database_uri = roles.conninfo_uri(self.options["database"], self.options["database-name"],
                                              self.options["database-user"], password)
        return {"host_name": roles.this_server(self.buildout), "files": files, "drops": drops,
                "receive_host": receive_host, "receive_port": receive_port, "database_uri": database_uri}

    def lines(self, key):
        return [line.strip() for line in self.options.get(key, "").splitlines() if line.strip()]
