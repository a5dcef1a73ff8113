"""Recipe surge.buildout:supervisor: one supervisord.conf from what the fragments add.

A surge.buildout:template (``settings = supervisor-settings``) whose
options also include:

programs
    Names of sections, one per program, which fragments add with
    ``programs +=``. Each program section (built on [program-defaults] with
    ``<=``) has: name, command, priority (a whole number; lower starts first
    and stops last), user (empty: supervisord's own), directory,
    startsecs, stopwaitsecs, stopsignal, autorestart, environment, and for
    N copies of one program numprocs, numprocs-start and process-name.
    ``binds`` names the [listen] keys the program listens on: one that starts
    as a user (not root) cannot take a port below 1024, and is refused here.
    ``kind = eventlistener`` (with ``events``) makes it an event listener,
    whose standard output is supervisord's protocol: its log is
    ``stderr-logfile``.

A program that sets no startsecs, stopwaitsecs or stdout log rotation gets
[supervisor-settings] startsecs, stopwaitsecs, logfile-maxbytes and
logfile-backups.

Derived for the template: ``programs``, in start order, each a dictionary
with ``name`` and ``settings`` (supervisor's option names and values, empty
values left out).
"""

from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.network import split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import SUPERVISOR_SIZE, Integer, Schema, Setting

SETTINGS = Schema("supervisor-settings", {
    # supervisord reads 0 as never rotate.
    "logfile-maxbytes": Setting(SUPERVISOR_SIZE.at_least("1KB", "0 never rotates the log")),
    "logfile-backups": Setting(Integer(0, 1000)),
    # supervisord refuses fewer than its own minimum of open files.
    "minfds": Setting(Integer(1024, 1048576)),
    "startsecs": Setting(Integer(0, 3600, unit="seconds")),
    "stopwaitsecs": Setting(Integer(1, 3600, unit="seconds")),
    "background-nice": Setting(Integer(0, 19, unit="nice level")),
})
# Program keys that default to a [supervisor-settings] key.
FROM_SETTINGS = {"startsecs": "startsecs", "stopwaitsecs": "stopwaitsecs",
                 "stdout-logfile-maxbytes": "logfile-maxbytes", "stdout-logfile-backups": "logfile-backups"}

REQUIRED = ("name", "command", "priority")
WHOLE_NUMBERS = ("priority", "startsecs", "stopwaitsecs", "numprocs", "numprocs-start")
# Program keys passed on to supervisord (dashes become underscores).
PROGRAM_KEYS = (
    "command", "process-name", "numprocs", "numprocs-start", "priority", "user", "directory",
    "environment", "autorestart", "startsecs",
    "stopwaitsecs", "stopsignal", "stopasgroup", "killasgroup", "redirect-stderr",
    "stdout-logfile", "stdout-logfile-maxbytes", "stdout-logfile-backups",
    "events", "stderr-logfile",
)
# An event listener talks to supervisord on its standard output, which is not
# a log (stdout_logfile = NONE).
NOT_FOR_LISTENERS = ("redirect-stderr", "stdout-logfile-maxbytes", "stdout-logfile-backups")


class Supervisor(Template):
    schema = SETTINGS

    def derive(self):
        names = self.options.get("programs", "").split()
        if not names:
            raise ConfigError(f"{where(self.buildout, self.name, 'programs')} lists no program")
        programs, problems = [], []
        for section in names:
            if section not in self.buildout._raw:
                problems.append(f"{where(self.buildout, self.name, 'programs')}: no section [{section}]")
                continue
            program = dict(self.buildout[section])
            for key, setting in FROM_SETTINGS.items():
                if not program.get(key, "").strip():
                    program[key] = self.settings[setting]
            problems.extend(
                f"{where(self.buildout, section, key)} is missing" for key in REQUIRED if not program.get(key)
            )
            problems.extend(
                f"{where(self.buildout, section, key)} = {program[key]!r} is not a whole number"
                for key in WHOLE_NUMBERS if key in program and not program[key].strip().isdigit()
            )
            if program.get("kind", "program") not in ("program", "eventlistener", ""):
                problems.append(f"{where(self.buildout, section, 'kind')} = {program['kind']!r} is not program "
                                "or eventlistener")
            problems.extend(privileged_binds(self.buildout, section, program))
            if program.get("kind") == "eventlistener":
                program["stdout-logfile"] = "NONE"
            programs.append(program)
        fail(problems)
        duplicates = {p["name"] for p in programs if [q["name"] for q in programs].count(p["name"]) > 1}
        fail([f"{where(self.buildout, self.name, 'programs')}: two programs are named {name!r}"
              for name in sorted(duplicates)])
        return {"programs": [
            {"name": program["name"], "kind": program.get("kind") or "program",
             # A command written over several lines in buildout is one line here.
             "settings": [(key.replace("-", "_"), " ".join(program[key].split())) for key in PROGRAM_KEYS
                          if program.get(key, "").strip()
                          and not (program.get("kind") == "eventlistener" and key in NOT_FOR_LISTENERS)]}
            for program in sorted(programs, key=lambda program: int(program["priority"]))
        ]}


def privileged_binds(buildout, section, program):
    """The [listen] keys of PROGRAM (``binds``) on a port below 1024 when it starts as a user: only root
    binds those, so the daemon would fail at start."""
    user = program.get("user", "").strip()
    if not user:
        return []
    problems = []
    for key in program.get("binds", "").split():
        port = split_bind(buildout["listen"][key])[1].partition("+")[0]
        if port.isdigit() and int(port) < 1024:
            problems.append(f"{where(buildout, 'listen', key)} = {buildout['listen'][key]!r} is below 1024, and "
                            f"{where(buildout, section, 'user')} = {user!r} starts {program['name']} without "
                            "root: only root binds such a port")
    return problems
