"""surge.buildout:pages-http renders a small nginx that serves a folder of
static pages (Munin's graphs, the logs report) to the web servers, whose nginx
shows them over HTTPS to the admin addresses.

Options: ``name`` (the pages' name: pid file, syslog tag), ``root`` (the
folder), ``temp`` (nginx's temporary files), ``listen`` (its [listen] entry),
``allow`` ([hosts] keys, resolved to addresses here: only they may connect),
``user``, ``syslog-socket``, ``var``, and optionally
``content-security-policy`` (checked as [nginx-settings]' own).
"""

from surge.buildout.errors import fail, where
from surge.buildout.network import addresses_of_keys
from surge.buildout.rendering import Template
from surge.buildout.schema import CSP_POLICY


class PagesHttp(Template):
    def derive(self):
        allowed, problems = addresses_of_keys(self.buildout, self.options["allow"].split(),
                                              where(self.buildout, self.name, "allow"))
        # The policy lands in nginx's add_header between double quotes: it is checked as nginx's own is.
        policy = self.options.get("content-security-policy", "")
        problem = CSP_POLICY.problem(policy, self.buildout) if policy else None
        if problem:
            problems.append(f"{where(self.buildout, self.name, 'content-security-policy')} = {policy!r} {problem}")
        fail(problems)
        return {"allowed": allowed}
