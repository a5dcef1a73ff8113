"""Recipe surge.buildout:etcd: this voter's etcd command line, from [topology] voters.

Options:

settings
    [etcd-settings]: the member's timing and the cluster's token.
client, peer
    This server's [listen] etcd-client and etcd-peer entries.

It publishes ``arguments``: every flag of etcd's command line but the
binary. etcd binds IP addresses only, and a member must advertise exactly
the peer URL the others list for it, so every host is resolved to its
address here, once: the member is named by its [hosts] key and the initial
cluster lists every voter of [topology] voters. Refused when this server is
no voter, or the voters are not an odd number of at least three (a majority
must survive the loss of any one).

Nothing is installed; etcd's data stays in ``data-dir`` across builds (a
member that has data ignores the initial-cluster flags).
"""

from surge.buildout import roles
from surge.buildout.errors import fail, where
from surge.buildout.network import addresses_of, split_bind
from surge.buildout.schema import ETCD, Choice, Integer, Schema, Setting, Text

SETTINGS = Schema("etcd-settings", {
    "binary": Setting(ETCD),
    "cluster-token": Setting(Text(r"[A-Za-z0-9_.-]{1,64}", "a word of letters, digits, _ . -")),
    "heartbeat-interval": Setting(Integer(10, 5000, unit="milliseconds")),
    "election-timeout": Setting(Integer(100, 50000, unit="milliseconds")),
    "compaction-hours": Setting(Integer(1, 720, unit="hours")),
    "initial-cluster-state": Setting(Choice(("new", "existing"))),
})


def url(address, port):
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


class Etcd:
    def __init__(self, buildout, name, options):
        fail(SETTINGS.problems(buildout, where))
        settings = buildout[options["settings"]]
        voters = roles.keys(buildout, "voters")
        me = roles.this_server(buildout)
        problems = []
        at = where(buildout, "topology", "voters")
        if len(voters) < 3 or len(voters) % 2 == 0 or len(set(voters)) != len(voters):
            problems.append(f"{at} = {' '.join(voters)!r}: etcd needs an odd number of at least three distinct "
                            "voters, so that a majority is left when any one is lost")
        if me not in voters:
            problems.append(f"{at} does not name {me}, this server, which runs an etcd member (buildout.d/etcd.cfg): "
                            "name it there, or build this server without etcd")
        heartbeat, election = int(settings["heartbeat-interval"]), int(settings["election-timeout"])
        if election < 5 * heartbeat:
            problems.append(f"{where(buildout, options['settings'], 'election-timeout')} = {election} is less than "
                            f"five heartbeats ({where(buildout, options['settings'], 'heartbeat-interval')} = "
                            f"{heartbeat}): one late heartbeat would start an election")
        peer_port = buildout["ports"]["etcd-peer"].strip()
        members = []
        for key in voters:
            found = sorted(addresses_of(roles.host(buildout, key)))
            if not found:
                problems.append(f"{at}: [hosts] {key} ({roles.host(buildout, key)!r}) does not resolve to an address "
                                "here; etcd's members find each other by address")
            else:
                members.append(f"{key}={url(found[0], peer_port)}")
        binds = {}
        for key in ("client", "peer"):
            host, port = split_bind(options[key])
            found = sorted(addresses_of(host))
            if not found:
                problems.append(f"{where(buildout, name, key)} = {options[key]!r} does not resolve to an address here")
            else:
                binds[key] = url(found[0], port)
        fail(problems)
        options["arguments"] = " ".join([
            f"--name {me}",
            f"--listen-client-urls {binds['client']} --advertise-client-urls {binds['client']}",
            f"--listen-peer-urls {binds['peer']} --initial-advertise-peer-urls {binds['peer']}",
            f"--initial-cluster {','.join(members)} --initial-cluster-state {settings['initial-cluster-state']}",
            f"--initial-cluster-token {settings['cluster-token']}",
            f"--heartbeat-interval {heartbeat} --election-timeout {election}",
            f"--auto-compaction-mode periodic --auto-compaction-retention {settings['compaction-hours']}h",
            # Patroni 3.0 speaks etcd's v2 API here (buildout.d/templates/patroni.yml.j2 says why).
            "--enable-v2=true",
        ])

    def install(self):
        return ()

    update = install
