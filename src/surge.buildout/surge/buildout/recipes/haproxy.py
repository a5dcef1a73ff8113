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

The settings author-instances and member-instances say how many instances
are ring-fenced for authors and for members; the rest form the shared pool,
which must keep at least one.

Every instance is a server line in exactly one backend, with ``maxconn``
equal to its threads, so no instance ever gets more concurrent requests than
it has threads: the rest queue in HAProxy. Ring-fenced instances are taken
alternately from the servers, so losing one server leaves every pool alive.

Derived for the template: ``backends``, a list of {"name", "balance",
"servers"}; each server is {"name", "address", "port", "options"}. The
shared pool balances on the least connections; a class pool fills its own
instances first ("balance first") and then spills into the shared pool
through one more server line, the loopback frontend ``spill-address``.

The check runs ``check`` (haproxy -c) and then reads the rendered server
lines back: each must be an instance of the topology, listed once, with
maxconn equal to the threads.
"""

import re

from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.rendering import Template
from surge.buildout.schema import HAPROXY_TIME, PROGRAM, Integer, Schema, Setting, Text

SERVER_LINE = re.compile(r"^\s*server\s+(\S+)\s+(\S+):(\d+)\s.*?\bmaxconn\s+(\d+)", re.M)

SETTINGS = Schema("haproxy-settings", {
    "binary": Setting(PROGRAM),
    "author-instances": Setting(Integer(0, 1000)),
    "member-instances": Setting(Integer(0, 1000)),
    "maxconn": Setting(Integer(1, 1000000)),
    **{key: Setting(HAPROXY_TIME) for key in (
        "queue-timeout", "connect-timeout", "server-timeout", "client-timeout", "check-interval", "slowstart")},
    "group": Setting(Text(r"[a-z_][a-z0-9_-]{0,31}", "a group name")),
})


class Haproxy(Template):
    schema = SETTINGS

    def derive(self):
        problems = []
        instances = self.buildout[self.options["instances"]]
        numbers = {"instance-count": int(instances["count"]), "threads": int(instances["threads"]),
                   "instance-base-port": int(self.options["instance-base-port"])}
        numbers.update({key: int(self.settings[key]) for key in ("author-instances", "member-instances")})
        servers = []
        for key in self.options["app-servers"].split():
            address = self.buildout["hosts"].get(key)
            if not address:
                problems.append(f"{where(self.buildout, self.name, 'app-servers')}: no [hosts] {key}")
            servers.append((key, address))
        fail(problems)
        self.instances = [
            {"name": f"{key}-{numbers['instance-base-port'] + index}", "address": address,
             "port": numbers["instance-base-port"] + index}
            for index in range(numbers["instance-count"]) for key, address in servers
        ]
        self.threads = numbers["threads"]
        ring_fenced = numbers["author-instances"] + numbers["member-instances"]
        if ring_fenced >= len(self.instances):
            raise ConfigError(
                f"{where(self.buildout, self.settings_section, 'author-instances')} ({numbers['author-instances']}) "
                f"plus {where(self.buildout, self.settings_section, 'member-instances')} "
                f"({numbers['member-instances']}) "
                f"ring-fence {ring_fenced} of the {len(self.instances)} instances; the shared pool needs at least one"
            )
        # Ring-fenced instances come from the end of the interleaved list.
        shared_count = len(self.instances) - ring_fenced
        instance_options = f"check maxconn {self.threads}"
        spill_host, _, spill_port = self.options["spill-address"].rpartition(":")
        spill_options = f"maxconn {self.settings['maxconn']}"

        def backend(name, balance, instances, spill):
            servers = [dict(instance, options=instance_options) for instance in instances]
            if spill:
                servers.append({"name": f"{name}-spill", "address": spill_host, "port": spill_port,
                                "options": spill_options})
            return {"name": name, "balance": balance, "servers": servers}

        members_end = shared_count + numbers["member-instances"]
        return {"health_path": instances["health-path"], "backends": [
            backend("shared", "leastconn", self.instances[:shared_count], spill=False),
            backend("author", "first", self.instances[members_end:], spill=True),
            backend("member", "first", self.instances[shared_count:members_end], spill=True),
        ]}

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
            if name.endswith("-spill"):
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
