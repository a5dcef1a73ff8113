"""Every settings section's schema, by section name: the checks part validates each.

A fragment's settings section gets its schema beside the recipe that reads
it (varnish.py's SETTINGS for [varnish-settings]); sections that no recipe
of ours reads (a daemon's command line, plone.recipe.zope2instance) have
theirs here. A settings section without a schema fails the build: every key
of every fragment has a type.
"""

from surge.buildout.recipes import (
    etcd,
    firewall,
    haproxy,
    loadtest,
    munin,
    nginx,
    patroni,
    postgres,
    rsyslog,
    supervisor,
    varnish,
    wsgi,
)
from surge.buildout.schema import (
    HOST_KEYS,
    MEMCACHED_PROGRAM,
    NGINX,
    SECONDS,
    SQL_NAME,
    TICK,
    ZCONFIG_SIZE,
    Boolean,
    Choice,
    Integer,
    Names,
    Path,
    Schema,
    Setting,
    Text,
    Urls,
)

# Surge's own pages in front of the site: a first segment that starts with _ is no page's (Zope gives no
# content such an id), so nginx, Varnish and HAProxy answering it hide nothing of the site.
SURGE_PATH = Text(r"/_[\w.@+-]+(/[\w.@+-]+)*", "a URL path whose first segment starts with _ (no page's)")

BASE = Schema("settings", {
    "mode": Setting(Choice(("development", "production"))),
    "site-id": Setting(Text(r"[A-Za-z][A-Za-z0-9_.-]*", "a Zope id (letters, digits, _ . -)")),
    "zope-admin": Setting(Text(r"[A-Za-z][A-Za-z0-9_.@-]*", "a user name")),
    "site-database": Setting(SQL_NAME),
    "site-role": Setting(SQL_NAME),
    "secrets-file": Setting(Path()),
    "syslog-socket": Setting(Path()),
    "health-path": Setting(SURGE_PATH),
    "panic-path": Setting(SURGE_PATH),
    "wildcard-binds": Setting(Names(r"[\w.-]+", "a [listen] key", section="listen"), empty=True),
})

TOPOLOGY = Schema("topology", {
    **{key: Setting(HOST_KEYS) for key in (
        "app-servers", "app-sources", "log-sources", "servers", "munin-sources", "web-servers", "web-sources",
        "syslog-sources", "database-servers", "database-sources", "voters", "voter-sources", "log-server",
        "munin-server")},
    "server-files": Setting(Names(r"[\w.-]+=\S+", "KEY=FILE"), empty=True),
})

INSTANCE = Schema("instance-settings", {
    "count": Setting(Integer(1, 256)),
    "author-instances": Setting(Integer(0, 1000)),
    "member-instances": Setting(Integer(0, 1000)),
    **{f"{pool}-nice": Setting(Integer(0, 19, unit="nice level")) for pool in ("author", "member", "shared")},
    "threads": Setting(Integer(1, 64)),
    "spare-threads": Setting(Integer(0, 16)),
    "zodb-cache-size": Setting(Integer(100, 10000000, unit="objects")),
    "conflict-retries": Setting(Integer(0, 100)),
    "stop-seconds": Setting(SECONDS),
    "memory-limit": Setting(Integer(100, 1000000, unit="MB")),
    "healthy-seconds": Setting(SECONDS),
    "health-path": Setting(Text(r"/[\w/.@+-]+", "an absolute URL path (letters, digits, / . @ + -)")),
    "drain-seconds": Setting(SECONDS),
    "memory-check": Setting(TICK),
    "drain-directory": Setting(Path()),
    # Zero would refuse every login.
    "login-address-limit": Setting(Integer(1, 10000)),
    "login-account-limit": Setting(Integer(1, 10000)),
    "login-period": Setting(Integer(1, 86400, unit="seconds")),
    # Varnish speaks no TLS: Plone purges it over plain HTTP.
    "caching-proxies": Setting(Urls(schemes=("http",)), empty=True),
})

DEV_INSTANCE = Schema("dev-instance-settings", {
    "threads": Setting(Integer(1, 64)),
    "keep-history": Setting(Boolean()),
    "zodb-cache-size": Setting(Integer(100, 10000000, unit="objects")),
})

RELSTORAGE = Schema("relstorage-settings", {
    "keep-history": Setting(Boolean()),
    "blob-cache-size": Setting(ZCONFIG_SIZE.at_least("1mb", "the instances would fetch every file from the "
                                                           "database again")),
    "cache-local-mb": Setting(Integer(0, 100000, unit="MB")),
    "cache-prefix": Setting(Text(r"[A-Za-z0-9_.-]{1,64}", "a word of letters, digits, _ . -")),
})

MEMCACHED = Schema("memcached-settings", {
    "binary": Setting(MEMCACHED_PROGRAM),
    # memcached's own minimum is a few MB; less than 16 holds nothing useful.
    "memory": Setting(Integer(16, 1000000, unit="MB")),
    "connections": Setting(Integer(64, 1000000)),
})

BACKUP = Schema("backup-settings", {
    "folder": Setting(Path()),
    "every": Setting(Integer(1, 168, unit="hours")),
    "keep": Setting(Integer(1, 10000)),
    "databases": Setting(Names(SQL_NAME.pattern, "a PostgreSQL database name")),
    "owners": Setting(Names(rf"{SQL_NAME.pattern}={SQL_NAME.pattern}", "DATABASE=ROLE")),
})

DATABASE_CLIENT = Schema("database-client-settings", {
    "connect-timeout": Setting(Integer(1, 60, unit="seconds")),
    # Keepalive probes need whole seconds at a sixth of it.
    "dead-after": Setting(Integer(6, 3600, unit="seconds")),
})

DOCS = Schema("docs-settings", {"output": Setting(Path())})

LOGS_REPORT = Schema("logs-report-settings", {
    # A report takes a few seconds of CPU: more often than every minute only burns it.
    "every": Setting(Integer(60, 86400, unit="seconds")),
    "hours": Setting(Integer(1, 24 * 31, unit="hours")),
    "rows": Setting(Integer(1, 10000)),
    "nginx": Setting(NGINX),
})

# A command line or path with {server} and {address} in it, without quotes: it lands in a generated script.
_TEMPLATE = r"(?:[\w@./=:,+-]|\{server\}|\{address\})"
REMOTE = Schema("remote-settings", {
    "shell": Setting(Text(rf"{_TEMPLATE}+(?: {_TEMPLATE}+)*", "a command line of words, {server} and {address}")),
    "directory": Setting(Text(rf"/{_TEMPLATE}*", "an absolute path, with {server} and {address}")),
    "build": Setting(Text(rf"{_TEMPLATE}+(?: {_TEMPLATE}+)*", "a command line of words")),
})

SCHEMAS = {schema.section: schema for schema in (
    BASE, TOPOLOGY, INSTANCE, DEV_INSTANCE, RELSTORAGE, MEMCACHED, BACKUP, DOCS, LOGS_REPORT, DATABASE_CLIENT, REMOTE,
    varnish.SETTINGS, nginx.SETTINGS, haproxy.SETTINGS, postgres.SETTINGS, supervisor.SETTINGS, rsyslog.SETTINGS,
    munin.NODE_SETTINGS, munin.MASTER_SETTINGS, wsgi.SETTINGS, loadtest.SETTINGS, firewall.SETTINGS,
    etcd.SETTINGS, patroni.SETTINGS,
)}


def is_settings_section(name):
    return name == "settings" or name == "topology" or name.endswith("-settings")
