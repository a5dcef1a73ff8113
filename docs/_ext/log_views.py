"""``.. log-views::``: the views of the central log database and what each answers.

Read from the ``COMMENT ON VIEW`` lines of buildout.d/sql/logs.sql, the same
lines ``bin/logs --help`` lists, so the table cannot drift from the schema.
"""

import os

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


class LogViews(Directive):
    def run(self):
        from surge.buildout.logdb import views_in

        root = self.state.document.settings.env.config.fragment_settings_root
        schema = os.path.join(root, "buildout.d", "sql", "logs.sql")
        self.state.document.settings.env.note_dependency(schema)
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "",
                 "   * - View", "     - Answers"]
        for name, text in views_in(schema).items():
            lines += [f"   * - ``{name}``", f"     - {text}"]
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source="log-views"), self.content_offset, node)
        return node.children


def setup(app):
    app.add_directive("log-views", LogViews)
    return {"parallel_read_safe": True, "version": "1.0"}
