"""``.. test-modules::``: every module of tests/ and what it proves, from the module's own docstring.

The first paragraph of each ``tests/test_*.py`` docstring is the module's
row (reStructuredText), so a new test module brings its row and the table
cannot list a module that no longer exists. A module without a docstring
fails the docs build.
"""

import ast
import glob
import os

from docutils.parsers.rst import Directive
from rst_tables import list_table
from sphinx.errors import ExtensionError


def first_paragraph(path):
    with open(path) as stream:
        docstring = ast.get_docstring(ast.parse(stream.read()))
    if not docstring:
        raise ExtensionError(f"{path} has no docstring: its first paragraph is its row in docs/testing.rst")
    return " ".join(docstring.split("\n\n")[0].split())


class TestModules(Directive):
    def run(self):
        root = self.state.document.settings.env.config.fragment_settings_root
        env = self.state.document.settings.env
        rows = []
        for path in sorted(glob.glob(os.path.join(root, "tests", "test_*.py"))):
            env.note_dependency(path)
            rows.append([f"``{os.path.basename(path)}``", first_paragraph(path)])
        return list_table(self, "test-modules", (25, 75), ["Module", "What it proves"], rows)


def setup(app):
    app.add_directive("test-modules", TestModules)
    return {"parallel_read_safe": True, "version": "1.0"}
