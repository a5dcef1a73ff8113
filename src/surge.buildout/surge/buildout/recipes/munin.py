"""Recipes for Munin: the node's configuration, its plugins, the master's pages.

surge.buildout:munin-node renders munin-node.conf (checked with munin-node's
own parser). Options: ``listen`` (its [listen] entry), ``allow`` (keys of
[hosts], the Munin master's; only their addresses may connect), ``confdir``
(the node's configuration folder), ``var``.

surge.buildout:munin-plugin-config renders the plugins' settings file
(confdir/plugin-conf.d/surge) from ``plugins``: one plugin per line, ``NAME
SOURCE [KEY=VALUE ...]``; each KEY=VALUE becomes ``env.KEY VALUE``, except
``user=NAME``, which runs the plugin as that user.

surge.buildout:munin-plugin-links links each plugin NAME to its SOURCE in
confdir/plugins, after the files went live; the links are made anew on every
build, so a plugin a fragment no longer lists disappears.

surge.buildout:munin-master renders munin.conf: option ``servers`` (keys of
[hosts], one node each) and ``node-port``.

The Munin master's pages are served by surge.buildout:pages-http (recipes/pages.py).
"""

import os
import shutil

from surge.buildout.errors import fail, where
from surge.buildout.network import addresses_of_keys, host_networks, split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import EXISTING_DIRECTORY, MUNIN_NODE, NGINX, PROGRAM, Integer, Schema, Setting

NODE_SETTINGS = Schema("munin-node-settings", {
    "binary": Setting(MUNIN_NODE),
    "plugins": Setting(EXISTING_DIRECTORY),
})
MASTER_SETTINGS = Schema("munin-master-settings", {
    "cron": Setting(PROGRAM),
    # Munin's graphs have 5-minute steps: less than a minute only burns CPU.
    "every": Setting(Integer(60, 86400, unit="seconds")),
    "templates": Setting(EXISTING_DIRECTORY),
    "static": Setting(EXISTING_DIRECTORY),
    "nginx": Setting(NGINX),
})

NODE_CHECK = ("perl -MMunin::Node::Config -e "
              "'Munin::Node::Config->instance->parse_config_from_file($ARGV[0])' {file}")


def plugin_lines(buildout, name, options):
    """[(NAME, SOURCE, [(KEY, VALUE)])] from option ``plugins``; a bad line fails naming it."""
    plugins, problems = [], []
    for line in options["plugins"].splitlines():
        words = line.split()
        if not words:
            continue
        settings = [word.partition("=") for word in words[2:]]
        if len(words) < 2 or any(not value for _, _, value in settings):
            problems.append(f"{where(buildout, name, 'plugins')}: {line.strip()!r} is not "
                            "NAME SOURCE [KEY=VALUE ...]")
            continue
        plugins.append((words[0], words[1], [(key, value) for key, _, value in settings]))
    fail(problems)
    return plugins


class MuninNode(Template):
    def __init__(self, buildout, name, options):
        options.setdefault("check", NODE_CHECK)
        super().__init__(buildout, name, options)

    def derive(self):
        addresses, problems = addresses_of_keys(self.buildout, self.options["allow"].split(),
                                                where(self.buildout, self.name, "allow"))
        fail(problems)
        host, port = split_bind(self.options["listen"])
        return {"master_addresses": host_networks(addresses), "listen_host": host, "listen_port": port}


class MuninPluginConfig(Template):
    def derive(self):
        return {"plugins": [
            {"name": plugin, "lines": [f"user {value}" if key == "user" else f"env.{key} {value}"
                                       for key, value in settings]}
            for plugin, _, settings in plugin_lines(self.buildout, self.name, self.options) if settings
        ]}


class MuninPluginLinks:
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.plugins = plugin_lines(buildout, name, options)

    def install(self):
        # Checked here, not when the part is read: bin/munin-plugin is made by an earlier part.
        missing = sorted({source for _, source, _ in self.plugins if not os.path.exists(source)})
        fail([f"{where(self.buildout, self.name, 'plugins')}: {source} does not exist" for source in missing])
        directory = self.options["directory"]
        staged = directory + ".new"
        shutil.rmtree(staged, ignore_errors=True)
        os.makedirs(staged)
        for plugin, source, _ in self.plugins:
            os.symlink(source, os.path.join(staged, plugin))
        # Swap the folders, so munin-node never sees a half-made one.
        if os.path.isdir(directory):
            os.replace(directory, directory + ".old")
        os.replace(staged, directory)
        shutil.rmtree(directory + ".old", ignore_errors=True)
        return ()

    update = install


class MuninMaster(Template):
    schema = MASTER_SETTINGS

    def derive(self):
        nodes = [{"key": key, "address": self.buildout["hosts"].get(key, "")}
                 for key in self.options["servers"].split()]
        fail([f"{where(self.buildout, self.name, 'servers')}: no [hosts] {node['key']}"
              for node in nodes if not node["address"]])
        return {"nodes": nodes}
