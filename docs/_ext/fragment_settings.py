"""``.. fragment-settings:: FILE SECTION``: a fragment's settings as a table.

Each setting of a fragment's settings section carries the reason for its
default in the comment above it (the fragments' style); this directive puts key,
default and reason into the docs straight from the fragment, and what the key
accepts (its type, range and floor) straight from the schema the build checks
it with, so neither can disagree.
"""

import os
import re

from docutils.parsers.rst import Directive
from rst_tables import list_table

KEY = re.compile(r"^([\w.-]+)\s*=\s*(.*)$")


def read_settings(path, section):
    """[(key, default, reason)] of [section] in the fragment at PATH."""
    rows, comment, inside, current = [], [], False, None
    with open(path, encoding="utf-8") as stream:
        for line in stream.read().splitlines():
            if line.startswith("["):
                inside = line.strip() == f"[{section}]"
                comment, current = [], None
                continue
            if not inside:
                continue
            if line.startswith("#"):
                comment.append(line.lstrip("#").strip())
                current = None
            elif line[:1].isspace() and line.strip() and current is not None:
                current[1].append(line.strip())
            elif KEY.match(line):
                key, value = KEY.match(line).groups()
                current = [key, [value] if value else [], " ".join(comment)]
                rows.append(current)
                comment = []
            elif not line.strip():
                comment, current = [], None
    return [(key, "\n".join(values), reason) for key, values, reason in rows]


def escape(text):
    """Plain text in reStructuredText: its markup characters taken literally."""
    return "".join(f"\\{char}" if char in "*`|_\\[]<>:" else char for char in text)


def cell(text):
    return f"``{text}``" if text else "(empty)"


class FragmentSettings(Directive):
    required_arguments = 2

    def run(self):
        root = self.state.document.settings.env.config.fragment_settings_root
        path = os.path.join(root, self.arguments[0])
        self.state.document.settings.env.note_dependency(path)
        rows = read_settings(path, self.arguments[1])
        if not rows:
            raise self.error(f"{self.arguments[0]} has no settings in [{self.arguments[1]}]")
        # What each key accepts comes from the schema the build checks with.
        from surge.buildout.schemas import SCHEMAS

        schema = SCHEMAS.get(self.arguments[1])
        table = []
        for key, default, reason in rows:
            default_lines = [cell(part) for part in default.splitlines()] or [cell("")]
            setting = schema.keys.get(key) if schema else None
            table.append([f"``{key}``", "\n".join(f"| {part}" for part in default_lines),
                          reason or "no reason given",
                          escape(setting.accepts()) if setting else "no type: the build refuses it"])
        return list_table(self, path, (20, 22, 33, 25), ["Setting", "Default", "Why", "Accepts"], table)


def setup(app):
    app.add_config_value("fragment_settings_root", os.getcwd(), "env")
    app.add_directive("fragment-settings", FragmentSettings)
    return {"parallel_read_safe": True, "version": "1.0"}
