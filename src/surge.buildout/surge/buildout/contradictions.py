"""Settings of one server that are each fine and together wrong: every rule once, with its numbers.

A rule applies when the server has every setting it reads (a web server has
no [instance-settings]). The values were checked against their schemas
first (surge.buildout.schemas), so they parse; the checks part refuses a
contradiction before any part is touched, naming both settings.
"""

from surge.buildout import roles
from surge.buildout.errors import where
from surge.buildout.network import addresses_of
from surge.buildout.schema import HAPROXY_TIME, NGINX_TIME, VARNISH_TIME

# RelStorage's two connections per Zope thread (load and store), which PostgreSQL counts.
CONNECTIONS_PER_THREAD = 2


def has(buildout, *settings):
    """Whether the build has every SECTION:KEY of SETTINGS."""
    return all(key in buildout._raw.get(section, {})
               for section, _, key in (setting.partition(":") for setting in settings))


def value(buildout, section, key):
    return buildout[section][key].strip()


# Who gets the cores first: (work, section, key of its nice level).
PRIORITIES = (("author", "instance-settings", "author-nice"), ("member", "instance-settings", "member-nice"),
              ("shared", "instance-settings", "shared-nice"), ("background", "supervisor-settings", "background-nice"))


def pool_priorities(buildout):
    """Authors first, then members, then anonymous work, then the background jobs: nice levels that do not
    go down that way (of the ones this server has)."""
    levels = [(work, section, key, int(value(buildout, section, key)))
              for work, section, key in PRIORITIES if has(buildout, f"{section}:{key}")]
    return [f"{where(buildout, low[1], low[2])} = {low[3]} is above {where(buildout, high[1], high[2])} = "
            f"{high[3]}: {high[0]} work would get the cores before {low[0]} work (a lower nice level runs first)"
            for low, high in zip(levels, levels[1:]) if low[3] > high[3]]


def memory_limit_above_cache(buildout):
    """An instance restarted for memory must be allowed more than RelStorage's own cache holds."""
    if not has(buildout, "instance-settings:memory-limit", "relstorage-settings:cache-local-mb"):
        return []
    limit = int(value(buildout, "instance-settings", "memory-limit"))
    cache = int(value(buildout, "relstorage-settings", "cache-local-mb"))
    if limit > cache:
        return []
    return [f"{where(buildout, 'instance-settings', 'memory-limit')} = {limit} (MB) is not above "
            f"{where(buildout, 'relstorage-settings', 'cache-local-mb')} = {cache} (MB): every instance would be "
            "restarted as soon as its cache filled"]


def connections_for_threads(buildout):
    """PostgreSQL takes what every instance thread of every app server opens."""
    if not has(buildout, "instance-settings:count", "instance-settings:threads", "instance-settings:spare-threads",
               "patroni-settings:max-connections"):
        return []
    count = int(value(buildout, "instance-settings", "count"))
    threads = int(value(buildout, "instance-settings", "threads")) + int(
        value(buildout, "instance-settings", "spare-threads"))
    servers = len(roles.keys(buildout, "app-servers"))
    needed = servers * count * threads * CONNECTIONS_PER_THREAD
    allowed = int(value(buildout, "patroni-settings", "max-connections"))
    if allowed >= needed:
        return []
    return [f"{where(buildout, 'patroni-settings', 'max-connections')} = {allowed} is below what the instances "
            f"open: {servers} app servers x {count} instances x {threads} threads (threads + spare-threads) x "
            f"{CONNECTIONS_PER_THREAD} connections = {needed}"]


def grace_order(buildout):
    """Varnish serves stale pages longer while the app tier is sick than while it is healthy."""
    if not has(buildout, "varnish-settings:grace-healthy", "varnish-settings:grace-sick"):
        return []
    healthy, sick = (value(buildout, "varnish-settings", key) for key in ("grace-healthy", "grace-sick"))
    if VARNISH_TIME.amount(healthy) <= VARNISH_TIME.amount(sick):
        return []
    return [f"{where(buildout, 'varnish-settings', 'grace-healthy')} = {healthy} is longer than "
            f"{where(buildout, 'varnish-settings', 'grace-sick')} = {sick}: visitors would see older pages while "
            "the app tier is healthy than while it is sick"]


def nginx_waits_for_varnish(buildout):
    """nginx waits longer than Varnish, so that Varnish decides when to give up and serves its grace."""
    if not has(buildout, "nginx-settings:upstream-read-timeout", "varnish-settings:first-byte-timeout"):
        return []
    nginx, varnish = (value(buildout, "nginx-settings", "upstream-read-timeout"),
                      value(buildout, "varnish-settings", "first-byte-timeout"))
    if NGINX_TIME.amount(nginx) > VARNISH_TIME.amount(varnish):
        return []
    return [f"{where(buildout, 'nginx-settings', 'upstream-read-timeout')} = {nginx} is not longer than "
            f"{where(buildout, 'varnish-settings', 'first-byte-timeout')} = {varnish}: nginx would give up on a "
            "page while Varnish still waits for it, and show the panic page instead of Varnish's answer"]


def drain_outlasts_requests(buildout):
    """A drained instance is restarted only after its longest request could have ended."""
    if not has(buildout, "instance-settings:drain-seconds", "haproxy-settings:server-timeout"):
        return []
    drain = int(value(buildout, "instance-settings", "drain-seconds"))
    server_timeout = value(buildout, "haproxy-settings", "server-timeout")
    if drain >= HAPROXY_TIME.amount(server_timeout):
        return []
    return [f"{where(buildout, 'instance-settings', 'drain-seconds')} = {drain} is shorter than "
            f"{where(buildout, 'haproxy-settings', 'server-timeout')} = {server_timeout}: a rolling restart "
            "would kill requests HAProxy still waits for"]


def web_servers_outside_app_sources(buildout):
    """In production, no web server (that is not also an app server) among the app tier's sources, by key or
    by address: the public-facing machine would reach memcached, the instances, PostgreSQL and Varnish's
    PURGE, everything the firewall keeps for the app servers."""
    if buildout["settings"].get("mode") != "production":
        return []
    topology = buildout["topology"]
    app_servers = set(topology["app-servers"].split())
    web_servers = [key for key in topology["web-servers"].split() if key not in app_servers]
    web_addresses = {key: addresses_of(buildout["hosts"].get(key, "")) for key in web_servers}
    found = []
    for source in topology["app-sources"].split():
        addresses = addresses_of(buildout["hosts"].get(source, ""))
        for web in web_servers:
            if source == web or addresses & web_addresses[web]:
                found.append(f"{where(buildout, 'topology', 'app-sources')} = {topology['app-sources']!r} names "
                             f"{source}, {'which is' if source == web else 'the address of'} the web server {web} "
                             f"({where(buildout, 'topology', 'web-servers')}): the app tier's private services "
                             "would be open to the public-facing machine")
    return found


RULES = (pool_priorities, memory_limit_above_cache, connections_for_threads, grace_order, nginx_waits_for_varnish,
         drain_outlasts_requests,
         web_servers_outside_app_sources)


def problems(buildout):
    return [problem for rule in RULES for problem in rule(buildout)]
