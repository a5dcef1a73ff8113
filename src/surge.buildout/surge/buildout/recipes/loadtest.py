"""Recipe surge.buildout:loadtest: etc/loadtest.conf, the settings of bin/loadtest.

A surge.buildout:template (``settings = loadtest-settings``): every key of
the settings but ``output`` and ``config`` becomes a line of Locust's
configuration file (bin/loadtest reads it with ``--config``). Each key's type
is in SETTINGS; checked here too, naming file, section and key: think times
are ``MIN-MAX`` seconds with MIN <= MAX, and the spike is not smaller than
the lull.

Derived for the template: ``lines``, [(key, value)] sorted by key.
"""

import re

from surge.buildout.errors import fail, where
from surge.buildout.rendering import Template
from surge.buildout.schema import Integer, Path, Schema, Setting, Text, Urls

THINK = re.compile(r"^(\d+(\.\d+)?)-(\d+(\.\d+)?)$")
THINK_TIME = Text(THINK.pattern.strip("^$"), "MIN-MAX seconds (e.g. 2-8)")
# Not Locust settings: where bin/loadtest keeps its runs.
NOT_SETTINGS = {"output", "config"}

SETTINGS = Schema("loadtest-settings", {
    "sites": Setting(Urls(), empty=True),
    "ca-file": Setting(Path(), empty=True),
    "admin-password-file": Setting(Path(), empty=True),
    "anonymous-weight": Setting(Integer(0, 1000)),
    "member-weight": Setting(Integer(0, 1000)),
    "fresh-search-share": Setting(Integer(0, 100, unit="percent")),
    "authors": Setting(Integer(1, 1000)),
    "anonymous-think": Setting(THINK_TIME),
    "member-think": Setting(THINK_TIME),
    "author-think": Setting(THINK_TIME),
    "lull-users": Setting(Integer(0, 1000000)),
    "spike-users": Setting(Integer(1, 1000000)),
    **{key: Setting(Integer(0, 86400, unit="seconds"))
       for key in ("lull-seconds", "ramp-seconds", "spike-seconds", "after-seconds")},
    "sections": Setting(Integer(1, 1000)),
    "pages": Setting(Integer(1, 1000)),
    "news": Setting(Integer(0, 10000)),
    "members": Setting(Integer(0, 100000)),
    "output": Setting(Path()),
    "config": Setting(Path()),
})


class Loadtest(Template):
    schema = SETTINGS

    def derive(self):
        values = {key: value.strip() for key, value in self.settings.items() if key not in NOT_SETTINGS}

        def problem(key, text):
            return f"{where(self.buildout, self.settings_section, key)} = {values.get(key, '')!r} {text}"

        problems = []
        for key in ("anonymous-think", "member-think", "author-think"):
            match = THINK.match(values[key])
            if float(match.group(1)) > float(match.group(3)):
                problems.append(problem(key, "is not MIN-MAX seconds with MIN <= MAX (e.g. 2-8)"))
        if int(values["spike-users"]) < int(values["lull-users"]):
            problems.append(problem("spike-users", f"is smaller than lull-users ({values['lull-users']})"))
        fail(problems)
        return {"lines": sorted(values.items())}
