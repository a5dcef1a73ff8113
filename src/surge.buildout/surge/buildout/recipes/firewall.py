"""Recipe surge.buildout:firewall: etc/nftables.conf, this server's host firewall.

A surge.buildout:template (``settings = firewall-settings``) whose options
also include:

allow
    One line per service other hosts reach: a [listen] key, then who may
    reach it: [topology] keys whose values are [hosts] keys
    (``haproxy web-sources app-sources``), or ``any`` for the public services
    only (PUBLIC: nginx's HTTPS and HTTP). Fragments add their
    services' lines (``allow += memcached app-sources``).
own
    [hosts] keys of this server's own addresses: what the server sends
    itself is always admitted, as is loopback from 127.0.0.1 and ::1.
local-users
    One line per service without authentication of its own: a [ports] key,
    then the users of this server that may connect to that port, here or on
    another server (``local-users += memcached plone memcache root``). The
    input rules cannot tell local users apart (the server's own addresses
    are admitted); the output chain can, by the socket's owner.

Derived for the template: ``rules`` (per allow line: the key, the TCP port
or range from [listen], the source addresses by family, or none for
``any``), ``local_rules`` (per local-users line: the key, the port, the
users, each checked to exist here), ``own`` (by family) and ``ssh_from``
(validated networks). Everything else arriving at the server is dropped;
what the server sends is filtered by local-users only.
"""

import ipaddress
import pwd

from surge.buildout.errors import fail, where
from surge.buildout.network import addresses_of_keys, host_networks, split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import NFT, Integer, Networks, Schema, Setting

SETTINGS = Schema("firewall-settings", {
    "binary": Setting(NFT),
    "ssh-port": Setting(Integer(1, 65535)),
    "ssh-from": Setting(Networks()),
})
ANY = "any"
# What the internet reaches: the web servers' nginx. Every other service is private and names who may
# reach it (memcached, the instances, HAProxy, PostgreSQL, Patroni, etcd, Varnish, the logs, Munin).
PUBLIC = ("nginx-https", "nginx-http")


class Firewall(Template):
    schema = SETTINGS

    def derive(self):
        problems, rules = [], []
        for line in self.options.get("allow", "").splitlines():
            words = line.split()
            if not words:
                continue
            key, sources = words[0], words[1:]
            rule, rule_problems = self.rule(key, sources)
            problems += rule_problems
            rules.append(rule)
        local_rules = []
        for line in self.options.get("local-users", "").splitlines():
            if line.split():
                rule, rule_problems = self.local_rule(*line.split())
                problems += rule_problems
                local_rules.append(rule)
        own, own_problems = addresses_of_keys(self.buildout, self.options.get("own", "").split(),
                                              where(self.buildout, self.name, "own"))
        fail(problems + own_problems)
        return {
            "rules": rules,
            "local_rules": local_rules,
            "own": by_family(host_networks(own)),
            "ssh_from": by_family([str(ipaddress.ip_network(value, strict=False))
                                   for value in self.settings["ssh-from"].split()]),
        }

    def rule(self, key, sources):
        """({key, ports, sources}, problems) of one allow line."""
        at = where(self.buildout, self.name, "allow")
        listen = self.buildout["listen"]
        if key not in listen:
            return None, [f"{at}: {key} is no [listen] key of this server"]
        if not sources:
            return None, [f"{at}: {key} names nobody who may reach it ([topology] keys, or {ANY})"]
        _, port = split_bind(listen[key])
        first, _, count = port.partition("+")
        ports = f"{first}-{int(first) + int(count) - 1}" if count else first
        if ANY in sources and key not in PUBLIC:
            return None, [f"{at}: {key} {ANY} would open a private service to everyone: only "
                          f"{' and '.join(PUBLIC)} take {ANY}; name who may reach it ([topology] keys)"]
        if sources == [ANY]:
            return {"key": key, "ports": ports, "sources": None}, []
        problems, keys = [], []
        for source in sources:
            if source not in self.buildout["topology"]:
                problems.append(f"{at}: {key} admits {source!r}, which is no [topology] key (nor {ANY})")
            else:
                keys += self.buildout["topology"][source].split()
        addresses, address_problems = addresses_of_keys(self.buildout, sorted(set(keys)), at)
        rule = {"key": key, "ports": ports, "sources": by_family(host_networks(addresses))}
        return rule, problems + address_problems

    def local_rule(self, key, *users):
        """({key, port, users}, problems) of one local-users line."""
        at = where(self.buildout, self.name, "local-users")
        problems = []
        if key not in self.buildout["ports"]:
            problems.append(f"{at}: {key} is no [ports] key")
        if not users:
            problems.append(f"{at}: {key} names no user who may connect to it")
        for user in users:
            try:
                pwd.getpwnam(user)
            except KeyError:
                problems.append(f"{at}: {key} names the user {user!r}, who does not exist on this server")
        return {"key": key, "port": self.buildout["ports"].get(key, ""), "users": sorted(set(users))}, problems


def by_family(networks):
    """{'ip': IPv4 networks, 'ip6': IPv6 networks}: nftables matches each family with its own keyword."""
    return {"ip": [n for n in networks if ":" not in n], "ip6": [n for n in networks if ":" in n]}
