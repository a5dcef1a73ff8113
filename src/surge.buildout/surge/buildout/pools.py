"""Which pool each Zope instance is in: one answer for HAProxy and for the app servers.

Every app server runs ``count`` instances on consecutive ports from the
instance base port. The instances of all servers are listed interleaved
(first port of each server, then the second...), and the ring-fenced ones
are taken from the end of that list: authors' last, members' before them,
so losing one server leaves every pool alive. The rest form the shared pool.

app-master's HAProxy puts each instance in its pool's backend; each app
server runs each of its own instances at its pool's CPU priority. Both read
[instance-settings], which surge.buildout.across keeps equal on every app
server, so they agree.
"""

from dataclasses import dataclass

from surge.buildout.errors import ConfigError, where

POOLS = ("shared", "member", "author")


@dataclass(frozen=True)
class Instance:
    server: str  # the app server's [hosts] key
    port: int
    pool: str


def assign(servers, count, base_port, members, authors):
    """[Instance] of SERVERS ([hosts] keys), interleaved; ValueError when no shared instance is left."""
    listed = [(server, base_port + index) for index in range(count) for server in servers]
    ring_fenced = members + authors
    if ring_fenced >= len(listed):
        raise ValueError(f"ring-fence {ring_fenced} of the {len(listed)} instances; "
                         "the shared pool needs at least one")
    shared = len(listed) - ring_fenced
    pools = ["shared"] * shared + ["member"] * members + ["author"] * authors
    return [Instance(server, port, pool) for (server, port), pool in zip(listed, pools)]


def from_settings(buildout, settings="instance-settings"):
    """assign() for this build's topology and instance settings; ConfigError naming the settings."""
    values = buildout[settings]
    try:
        return assign(buildout["topology"]["app-servers"].split(), int(values["count"]),
                      int(buildout["ports"]["instance-base"]), int(values["member-instances"]),
                      int(values["author-instances"]))
    except ValueError as error:
        raise ConfigError(
            f"{where(buildout, settings, 'author-instances')} ({values['author-instances']}) plus "
            f"{where(buildout, settings, 'member-instances')} ({values['member-instances']}) {error}"
        ) from None
