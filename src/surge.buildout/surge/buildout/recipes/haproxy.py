"""Recipe surge.buildout:haproxy: HAProxy's pools, computed from the topology.

A surge.buildout:template (``settings = haproxy-settings``) whose options
also include:

app-servers
    Keys of [hosts], one per application server (the topology).
instances, instance-base-port
    ``instances`` names the instances' settings section ([instance-settings]
    of buildout.d/prod-instance.cfg): each application server runs ``count``
    instances on consecutive ports from instance-base-port, each with
    ``threads`` Zope threads.
listen, spill-address, listen-stats
    What HAProxy binds: its [listen] entries.

Which instance is in which pool is surge.buildout.pools' answer, from
[instance-settings] author-instances and member-instances (the app servers
give each instance its pool's CPU priority from the same answer).

Every instance is a server line in exactly one backend, with ``maxconn``
equal to its threads, so no instance ever gets more concurrent requests than
it has threads: the rest queue in HAProxy. The shared pool's queue is
bounded for anonymous requests with a query string: with more than
shared-queue-per-thread requests queued per shared thread, they get the
panic page at once (``shared_queue_limit``).

Derived for the template: ``backends``, a list of {"name", "balance",
"servers"}; each server is {"name", "address", "port", "options"}, and
``slots``, {pool: its instances' threads in all}. The shared pool balances
on the least connections; a class pool fills its own instances first
("balance first"). A class request borrows a shared thread only while its
own pool's threads are all busy and a shared thread is idle; otherwise it
queues in its own pool. A class pool's last server line is a backup, the
loopback frontend ``spill-address`` into the shared pool: used only when
every instance of the pool is down.

The check runs ``check`` (haproxy -c) and then reads the rendered server
lines back: each must be an instance of the topology, listed once, with
maxconn equal to the threads.
"""

import re

from surge.buildout import pools
from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.rendering import Template
from surge.buildout.schema import HAPROXY, HAPROXY_TIME, Integer, Schema, Setting, Text

# A class pool's backup server line into the spill frontend: POOL + SPILL.
SPILL = "-spill"
SERVER_LINE = re.compile(r"^\s*server\s+(\S+)\s+(\S+):(\d+)\s.*?\bmaxconn\s+(\d+)", re.M)

SETTINGS = Schema("haproxy-settings", {
    "binary": Setting(HAPROXY),
    "maxconn": Setting(Integer(1, 1000000)),
    "shared-queue-per-thread": Setting(Integer(1, 100000)),
    # HAProxy reads a timeout of 0 as none: a request would wait forever.
    **{key: Setting(HAPROXY_TIME.at_least("100ms", "a shorter wait fails instances that are only busy, and 0 "
                                                   "means waiting forever"))
       for key in ("queue-timeout", "connect-timeout", "server-timeout", "client-timeout")},
    "check-interval": Setting(HAPROXY_TIME.at_least("100ms", "checks this often are all an instance would "
                                                              "answer")),
    # 0 is a choice: a recovered instance gets its full share at once.
    "slowstart": Setting(HAPROXY_TIME),
    "group": Setting(Text(r"[a-z_][a-z0-9_-]{0,31}", "a group name")),
})


class Haproxy(Template):
    schema = SETTINGS

    def derive(self):
        problems = []
        settings = self.options["instances"]
        addresses = {}
        for key in self.options["app-servers"].split():
            addresses[key] = self.buildout["hosts"].get(key)
            if not addresses[key]:
                problems.append(f"{where(self.buildout, self.name, 'app-servers')}: no [hosts] {key}")
        fail(problems)
        self.instances = [
            {"name": f"{instance.server}-{instance.port}", "address": addresses[instance.server],
             "port": instance.port, "pool": instance.pool}
            for instance in pools.from_settings(self.buildout, settings)
        ]
        self.threads = int(self.buildout[settings]["threads"])
        instance_options = f"check maxconn {self.threads}"
        backends = [{"name": name, "balance": balance,
                     "servers": [dict(instance, options=instance_options) for instance in self.instances
                                 if instance["pool"] == name]}
                    for name, balance in (("shared", "leastconn"), ("author", "first"), ("member", "first"))]
        slots = {backend["name"]: len(backend["servers"]) * self.threads for backend in backends}
        spill_host, _, spill_port = self.options["spill-address"].rpartition(":")
        for backend in (backend for backend in backends if backend["name"] != "shared"):
            backend["servers"].append({"name": backend["name"] + SPILL, "address": spill_host, "port": spill_port,
                                       "options": f"maxconn {self.settings['maxconn']} backup"})
        return {"health_path": self.buildout[settings]["health-path"],
                # Queued anonymous requests beyond this get the panic page at once.
                "shared_queue_limit": slots["shared"] * int(self.settings["shared-queue-per-thread"]),
                "slots": slots, "backends": backends}

    def check(self, staged):
        super().check(staged)
        with open(staged, encoding="utf-8") as stream:
            problems = self.consistency(stream.read())
        if problems:
            raise ConfigError(f"[{self.name}] {self.template_name} renders server lines that do not match the "
                              f"instances; {self.output} is unchanged:\n" + "\n".join(problems))

    def consistency(self, text):
        """Problems of the rendered server lines against the topology."""
        expected = {(i["address"], i["port"]) for i in self.instances}
        seen, problems = set(), []
        for name, address, port, maxconn in SERVER_LINE.findall(text):
            if name.endswith(SPILL):
                continue
            instance = (address, int(port))
            if instance not in expected:
                problems.append(f"server {name} points to {address}:{port}, which runs no instance")
            elif instance in seen:
                problems.append(f"instance {address}:{port} appears in two server lines")
            if int(maxconn) != self.threads:
                problems.append(f"server {name} has maxconn {maxconn}, but instances run {self.threads} threads")
            seen.add(instance)
        problems.extend(f"instance {address}:{port} is in no pool" for address, port in sorted(expected - seen))
        return problems
