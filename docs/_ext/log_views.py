"""``.. log-views::``: the views of the central log database and what each answers.

Read from the ``COMMENT ON VIEW`` lines of buildout.d/sql/logs.sql, the same
lines ``bin/logs --help`` lists, so the table cannot drift from the schema.
"""

import os

from docutils.parsers.rst import Directive
from rst_tables import list_table


class LogViews(Directive):
    def run(self):
        from surge.buildout.logdb import views_in

        root = self.state.document.settings.env.config.fragment_settings_root
        schema = os.path.join(root, "buildout.d", "sql", "logs.sql")
        self.state.document.settings.env.note_dependency(schema)
        rows = [[f"``{name}``", text] for name, text in views_in(schema).items()]
        return list_table(self, "log-views", (30, 70), ["View", "Answers"], rows)


def setup(app):
    app.add_directive("log-views", LogViews)
    return {"parallel_read_safe": True, "version": "1.0"}
