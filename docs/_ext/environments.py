"""``.. environments::``: each top-level file, what it is for, what it extends and what it sets.

Read from the files themselves (their opening comment, ``[buildout]
extends`` and the sections they set), so the table cannot drift from what
is built.
"""

import configparser
import os

from docutils.parsers.rst import Directive
from port_map import TOP_LEVEL
from rst_tables import list_table


def describe(path):
    """(opening comment as one line, [extended files], [sections set besides [buildout]])."""
    with open(path) as stream:
        text = stream.read()
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("# ").strip())
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    extends = parser.get("buildout", "extends", fallback="").split()
    return " ".join(comment), extends, [section for section in parser.sections() if section != "buildout"]


class Environments(Directive):
    def run(self):
        root = self.state.document.settings.env.config.fragment_settings_root
        env = self.state.document.settings.env
        rows = []
        for filename in TOP_LEVEL:
            path = os.path.join(root, filename)
            env.note_dependency(path)
            comment, extends, sets = describe(path)
            rows.append([f"``{filename}``", comment,
                         ", ".join(f"``{name.replace('buildout.d/', '')}``" for name in extends),
                         ", ".join(f"``[{section}]``" for section in sets) or "nothing"])
        return list_table(self, "environments", (18, 32, 35, 15), ["File", "What it is", "Extends", "Sets"], rows)


def setup(app):
    app.add_directive("environments", Environments)
    return {"parallel_read_safe": True, "version": "1.0"}
