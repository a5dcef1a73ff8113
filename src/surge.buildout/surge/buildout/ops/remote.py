"""The other servers of the site, as a command on one of them reaches them: their files and a shell there.

A production server's checkout holds every server's top-level file (or
``[topology] server-files`` names them), so one server reads what each other
server builds, with zc.buildout itself (surge.buildout.across). A command is
run on a server through ``[remote-settings] shell`` (ssh as root in
production: one shell line, in the server's checkout, ``directory``); the
one-machine cluster reaches its servers' directories with ``sh -c``. Both
templates take ``{server}`` (its [hosts] key) and ``{address}``.
"""

import shlex
import subprocess
import urllib.request

from surge.buildout import across


class RemoteError(Exception):
    """A command on another server failed; the message names the server, the command and its output."""


class Server:
    def __init__(self, key, config):
        self.key, self.config = key, config
        self.address = config["hosts"][key]

    def names_secret(self, name):
        return name in config_words(self.config, "secrets", "names")

    def database_roles(self):
        """{secret name: role} of the roles this server's PostgreSQL gives passwords ([postgres] roles:
        ROLE SECRET, and ``logins`` for a role of two logins)."""
        lines = self.config["postgres"]["roles"].splitlines() if "postgres" in self.config else []
        return {words[1]: words[0] for words in (line.split() for line in lines) if len(words) >= 2}

    def database_primary(self):
        """True when this server's Patroni says its PostgreSQL is the primary (its health answer, no password)."""
        if "patroni" not in self.config["ports"]:
            return False
        url = f"http://{self.address}:{self.config['ports']['patroni']}/primary"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status == 200
        except OSError:
            return False


def config_words(config, section, key):
    return config[section][key].split() if section in config and key in config[section] else []


def servers(directory, topology):
    """Every server of TOPOLOGY ({key: value} of [topology]), loaded from its top-level file, in [hosts] key
    order of [topology] servers."""
    files = across.server_files({"buildout": {"directory": directory}, "topology": topology})
    order = topology["servers"].split()
    return [Server(key, across.load(files[key])) for key in sorted(files, key=lambda key: (
        order.index(key) if key in order else len(order), key))]


class Shell:
    """Runs one shell line in a server's checkout: SHELL and DIRECTORY are the [remote-settings] templates."""

    def __init__(self, shell, directory):
        self.shell, self.directory = shell, directory

    def run(self, server, line, input=None, timeout=3600):
        """LINE's output, run in SERVER's checkout; RemoteError when it fails."""
        fields = {"server": server.key, "address": server.address}
        here = self.directory.format(**fields)
        command = [*shlex.split(self.shell.format(**fields)), f"cd {shlex.quote(here)} && {line}"]
        try:
            result = subprocess.run(command, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RemoteError(f"{server.key}: {line} did not end within {timeout} s") from None
        if result.returncode:
            raise RemoteError(f"{server.key}: {line} failed ({result.returncode}):\n{result.stdout.strip()}")
        return result.stdout
