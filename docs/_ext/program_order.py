"""``.. program-order::``: every supervisord program of the fragments, in start order, and why it is there.

Read from each fragment's ``[*-program]`` sections: ``name``, ``priority``
and the comment right above ``priority``, so the table cannot drift from
what supervisord is given.
"""

import glob
import os
import re

from docutils.parsers.rst import Directive
from rst_tables import list_table

SECTION = re.compile(r"^\[([\w-]+-program)\]\n(.*?)(?=^\[|\Z)", re.M | re.S)


def programs(path):
    """(priority, name, why) of each program section of the fragment PATH."""
    with open(path) as stream:
        text = stream.read()
    found = []
    for _, body in SECTION.findall(text):
        name = re.search(r"^name = (.+)$", body, re.M)
        priority = re.search(r"((?:^#.*\n)*)^priority = (\d+)$", body, re.M)
        if name and priority:
            why = " ".join(line.lstrip("# ") for line in priority[1].splitlines())
            found.append((int(priority[2]), name[1].strip(), why))
    return found


class ProgramOrder(Directive):
    def run(self):
        env = self.state.document.settings.env
        root = env.config.fragment_settings_root
        rows = []
        for path in sorted(glob.glob(os.path.join(root, "buildout.d", "*.cfg"))):
            env.note_dependency(path)
            fragment = os.path.splitext(os.path.basename(path))[0]
            page = os.path.join(root, "docs", "fragments", f"{fragment}.rst")
            where = f":doc:`fragments/{fragment}`" if os.path.exists(page) else f"``{os.path.basename(path)}``"
            rows += [(priority, name, where, why) for priority, name, why in programs(path)]
        rows.sort(key=lambda row: (row[0], row[1]))
        return list_table(self, "program-order", (10, 20, 25, 45), ["Priority", "Program", "Fragment", "Why there"],
                          [[str(priority), f"``{name}``", where, why] for priority, name, where, why in rows])


def setup(app):
    app.add_directive("program-order", ProgramOrder)
    return {"parallel_read_safe": True, "version": "1.0"}
