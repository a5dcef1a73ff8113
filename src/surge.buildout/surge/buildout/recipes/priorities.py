"""Recipe surge.buildout:instance-priorities: each of this server's instances at its pool's CPU priority.

Options:

settings
    The instances' settings section ([instance-settings]): count,
    author-instances, member-instances and each pool's nice level
    (author-nice, member-nice, shared-nice).

It sets ``levels``, one ``PORT=NICE`` per instance of this server (the app
server whose [hosts] address is [hosts] server), from surge.buildout.pools:
the pools HAProxy routes to. supervisord's instance program starts each
process through bin/pool-priority with them. Nothing is installed.
"""

from surge.buildout import pools
from surge.buildout.errors import ConfigError, where
from surge.buildout.network import address_of


class InstancePriorities:
    def __init__(self, buildout, name, options):
        settings = options["settings"]
        here = address_of(buildout["hosts"]["server"])
        mine = [instance for instance in pools.from_settings(buildout, settings)
                if address_of(buildout["hosts"][instance.server]) == here]
        if not mine:
            raise ConfigError(f"{where(buildout, 'hosts', 'server')} = {buildout['hosts']['server']!r} is the "
                              f"address of none of {where(buildout, 'topology', 'app-servers')}: this server "
                              "would run instances HAProxy does not know")
        options["levels"] = " ".join(f"{instance.port}={buildout[settings][f'{instance.pool}-nice']}"
                                     for instance in mine)

    def install(self):
        return ()

    update = install
