"""Recipe surge.buildout:loadtest: etc/loadtest.conf, the settings of bin/loadtest.

Option ``settings`` names the section of the load test's settings
([loadtest-settings]); every key of it becomes a line of Locust's
configuration file (bin/loadtest reads it with ``--config``). Checked here,
each naming file, section and key: counts, weights and durations are whole
numbers, think times are ``MIN-MAX`` seconds, the sites are http(s) URLs,
there is at least one author, and the spike is not smaller than the lull.

Derived for the template: ``settings``, [(key, value)] sorted by key.
"""

import re

from surge.buildout.origin import fail, where
from surge.buildout.template import Template

WHOLE_NUMBERS = ("anonymous-weight", "member-weight", "authors", "lull-users", "spike-users", "lull-seconds",
                 "ramp-seconds", "spike-seconds", "after-seconds", "sections", "pages", "news", "members")
THINK_TIMES = ("anonymous-think", "member-think", "author-think")
THINK = re.compile(r"^(\d+(\.\d+)?)-(\d+(\.\d+)?)$")
SITE = re.compile(r"^https?://[^/\s:]+(:\d+)?/?$")
# Not Locust settings: where bin/loadtest keeps its runs.
NOT_SETTINGS = {"output", "config"}


class Loadtest(Template):
    def derive(self):
        name = self.options["settings"]
        values = {key: value.strip() for key, value in self.buildout[name].items() if key not in NOT_SETTINGS}

        def problem(key, text):
            return f"{where(self.buildout, name, key)} = {values.get(key, '')!r} {text}"

        problems = [problem(key, "is not a whole number") for key in WHOLE_NUMBERS
                    if not values.get(key, "").isdigit()]
        for key in THINK_TIMES:
            match = THINK.match(values.get(key, ""))
            if not match or float(match.group(1)) > float(match.group(3)):
                problems.append(problem(key, "is not MIN-MAX seconds with MIN <= MAX (e.g. 2-8)"))
        sites = values.get("sites", "").split()
        if not sites or not all(SITE.match(site) for site in sites):
            problems.append(problem("sites", "is not a list of site URLs (https://HOST[:PORT])"))
        if not problems:
            if int(values["authors"]) < 1:
                problems.append(problem("authors", "must be at least 1: the spike is measured against authors"))
            if int(values["spike-users"]) < int(values["lull-users"]):
                problems.append(problem("spike-users", f"is smaller than lull-users ({values['lull-users']})"))
        fail(problems)
        return {"settings": sorted(values.items())}
