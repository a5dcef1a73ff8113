"""``.. secret-servers::``: each secret, the production servers whose builds need it, and what it is for.

The servers come from loading each top-level ``prod-*.cfg`` with zc.buildout
(``[secrets] names``, what the build itself checks); the directive's content
gives each secret's purpose, one unindented name followed by indented lines.
A secret a build needs without a purpose here, or a purpose for a secret no
build needs, fails the docs build, so the table cannot drift from the
fragments.
"""

import glob
import os

from docutils.parsers.rst import Directive
from rst_tables import list_table


def purposes(lines):
    """{secret: purpose} from the directive's content."""
    found, name = {}, None
    for line in lines:
        if line and not line[0].isspace():
            name = line.strip()
            found[name] = ""
        elif line.strip() and name:
            found[name] = f"{found[name]} {line.strip()}".strip()
    return found


def servers_by_secret(root, note):
    """{secret: [server, ...]}: the servers (prod-SERVER.cfg) whose [secrets] names list it."""
    from surge.buildout import across

    found = {}
    for path in sorted(glob.glob(os.path.join(root, "prod-*.cfg"))):
        note(path)
        server = os.path.basename(path)[len("prod-"):-len(".cfg")]
        for secret in dict.fromkeys(across.load(path)["secrets"]["names"].split()):
            found.setdefault(secret, []).append(server)
    return found


class SecretServers(Directive):
    has_content = True

    def run(self):
        env = self.state.document.settings.env
        for path in glob.glob(os.path.join(env.config.fragment_settings_root, "buildout.d", "*.cfg")):
            env.note_dependency(path)
        needed = servers_by_secret(env.config.fragment_settings_root, env.note_dependency)
        described = purposes(self.content)
        unknown = sorted(set(needed) ^ set(described))
        if unknown:
            raise self.error(f"secret-servers: {', '.join(unknown)}: each secret a production build names "
                             "needs a purpose here, and only those")
        rows = [[f"``{secret}``", ", ".join(servers), described[secret]] for secret, servers in needed.items()]
        return list_table(self, "secret-servers", (30, 30, 40), ["Secret", "Servers", "What for"], rows)


def setup(app):
    app.add_directive("secret-servers", SecretServers)
    return {"parallel_read_safe": True, "version": "1.0"}
