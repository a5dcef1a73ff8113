"""Recipe surge.buildout:rsyslog: rsyslog.conf with the files and noise the fragments list.

A surge.buildout:template whose options also include:

files
    One log file per line: ``TAG PATH`` or ``TAG PATH multiline`` (messages
    start with a date and may go on over several lines).
drop
    One per line: ``TAG TEXT``: a message of that program containing TEXT is
    not forwarded.

Derived for the template: ``files``, a list of {"tag", "path", "multiline"},
and ``drops``, a list of {"tag", "text"}. A line of another shape fails the
build naming the option; so does a quote, which would end rsyslog's string.
"""

from surge.buildout.origin import fail, where
from surge.buildout.template import Template


class Rsyslog(Template):
    def derive(self):
        problems, files, drops = [], [], []
        for line in self.lines("files"):
            words = line.split()
            if len(words) not in (2, 3) or words[2:] not in ([], ["multiline"]):
                problems.append(f"{where(self.buildout, self.name, 'files')}: {line!r} is not TAG PATH [multiline]")
            else:
                files.append({"tag": words[0], "path": words[1], "multiline": words[2:] == ["multiline"]})
        for line in self.lines("drop"):
            words = line.split(None, 1)
            if len(words) != 2:
                problems.append(f"{where(self.buildout, self.name, 'drop')}: {line!r} is not TAG TEXT")
            else:
                drops.append({"tag": words[0], "text": words[1]})
        problems.extend(
            f"{where(self.buildout, self.name, key)}: {line!r} contains a quote"
            for key in ("files", "drop") for line in self.lines(key) if '"' in line
        )
        fail(problems)
        return {"files": files, "drops": drops}

    def lines(self, key):
        return [line.strip() for line in self.options.get(key, "").splitlines() if line.strip()]
