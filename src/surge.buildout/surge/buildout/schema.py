"""Types of settings, and the schema of a settings section.

Every key of every settings section has a type here (its reason stays the
comment beside its default in the fragment). The checks part validates every
section with its schema before zc.buildout uninstalls or installs anything:
an unknown key is refused with the nearest known one, a value of the wrong
type with its file, section, key and value.

A type is an object with ``problem(value, buildout)``: None when the value is
good, else the end of a sentence that starts with ``FILE: [SECTION] KEY = VALUE``;
and ``accepts()``: what it takes, for the settings tables of the docs.
Types of lists check each word (or line) and name the bad one.
"""

import dataclasses
import difflib
import ipaddress
import os
import re
import subprocess
import urllib.parse
from dataclasses import dataclass, field

from surge.buildout.network import is_wildcard, valid_host

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class Type:
    description = "a value"

    def problem(self, value, buildout):
        raise NotImplementedError

    def accepts(self):
        return self.description


@dataclass
class Text(Type):
    """Anything without a line break, or a pattern it must match."""

    pattern: str = r".+"
    description: str = "a line of text"

    def problem(self, value, buildout):
        if "\n" in value or not re.fullmatch(self.pattern, value):
            return f"is not {self.description}"
        return None


@dataclass
class Integer(Type):
    minimum: int = 0
    maximum: int | None = None
    unit: str = ""

    def problem(self, value, buildout):
        top = f" to {self.maximum}" if self.maximum is not None else " or more"
        unit = f" ({self.unit})" if self.unit else ""
        if not re.fullmatch(r"\d+", value):
            return f"is not a whole number{unit}, {self.minimum}{top}"
        number = int(value)
        if number < self.minimum or (self.maximum is not None and number > self.maximum):
            return f"is out of range: a whole number{unit} from {self.minimum}{top}"
        return None

    def accepts(self):
        top = f" to {self.maximum}" if self.maximum is not None else " or more"
        return f"a whole number{f' ({self.unit})' if self.unit else ''} from {self.minimum}{top}"


# What one of each unit is worth: bytes for sizes (no unit: bytes), seconds for durations.
SIZE_UNITS = {"": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3,
              "t": 1024 ** 4, "tb": 1024 ** 4}
DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


@dataclass
class Quantity(Type):
    """A number with a unit from UNITS (durations, sizes); the unit may be optional. ``at_least`` gives a
    setting its floor (in the same units) and why: a zero that a daemon reads as "no limit" or "never"."""

    kind: str
    units: tuple
    unit_required: bool = True
    case_sensitive: bool = True
    examples: str = ""
    floor: str = ""
    why: str = ""

    def at_least(self, floor, why):
        return dataclasses.replace(self, floor=floor, why=why)

    def amount(self, value):
        """The value in bytes or seconds, or None when it is not a quantity of this type."""
        flags = 0 if self.case_sensitive else re.I
        alternatives = "|".join(re.escape(unit) for unit in sorted(self.units, key=len, reverse=True))
        match = re.fullmatch(rf"(\d+(?:\.\d+)?)({alternatives}){'' if self.unit_required else '?'}", value,
                             flags)
        if not match:
            return None
        unit = match.group(2) or ""
        unit = unit if self.kind == "duration" else unit.lower()
        return float(match.group(1)) * (DURATION_UNITS if self.kind == "duration" else SIZE_UNITS)[unit]

    def problem(self, value, buildout):
        amount = self.amount(value)
        if amount is None:
            needs = "with" if self.unit_required else "with or without"
            return (f"is not a {self.kind} {needs} a unit such as {self.examples} "
                    f"(units: {', '.join(self.units)})")
        if self.floor and amount < self.amount(self.floor):
            return f"is less than {self.floor}: {self.why}"
        return None

    def accepts(self):
        floor = f", at least {self.floor} ({self.why})" if self.floor else ""
        return f"a {self.kind} in {', '.join(self.units)}{'' if self.unit_required else ' or none'}{floor}"


@dataclass
class Choice(Type):
    choices: tuple

    def problem(self, value, buildout):
        if value not in self.choices:
            return f"is not one of {', '.join(self.choices)}"
        return None

    def accepts(self):
        return f"one of {', '.join(self.choices)}"


@dataclass
class Boolean(Choice):
    choices: tuple = ("true", "false")


@dataclass
class Choices(Type):
    """Words from CHOICES, each once, that include every one of REQUIRED (a misspelt word, or one the
    setting cannot do without, is refused with the nearest choice)."""

    choices: tuple
    required: tuple = ()

    def problem(self, value, buildout):
        words = value.split()
        for word in words:
            if word not in self.choices:
                near = difflib.get_close_matches(word, self.choices, n=1)
                return (f"has {word!r}, which is not one of {', '.join(self.choices)}"
                        f"{f'; did you mean {near[0]}?' if near else ''}")
        missing = [word for word in self.required if word not in words]
        if missing:
            return f"lacks {', '.join(missing)}: the site cannot work without {' and '.join(self.required)}"
        return None

    def accepts(self):
        required = f", with {', '.join(self.required)}" if self.required else ""
        return f"any of {', '.join(self.choices)}{required}"


# Characters that end a value, start a comment or expand in one of the files a path reaches.
UNSAFE_IN_PATH = re.compile(r"[\s'\"\u2018\u2019\u201c\u201d;#{}$\\`|&<>*?]")


@dataclass
class Path(Type):
    """An absolute path; with ``exists`` it must be a file (``executable``: a program) or, with ``directory``, a
    directory on this machine. With ``many``, paths separated by white space."""

    exists: bool = False
    directory: bool = False
    executable: bool = False
    many: bool = False

    def problem(self, value, buildout):
        paths = value.split() if self.many else [value]
        for path in paths:
            problem = self.path_problem(path)
            if problem:
                return f"has {path!r}, which {problem}" if self.many else problem
        return None

    def accepts(self):
        what = ("a directory" if self.directory else "a program" if self.executable else "a file") if self.exists \
            else "a path"
        return f"absolute paths of {what}s" if self.many else f"the absolute path of {what}"

    def path_problem(self, path):
        if not os.path.isabs(path) or "\n" in path:
            return "is not an absolute path"
        unsafe = UNSAFE_IN_PATH.search(path)
        if unsafe:
            return (f"has {unsafe.group()!r}, which ends or comments out a value in the files it reaches "
                    "(nginx, Varnish, HAProxy, Perl, shell): name a path without white space, quotes, ; # { } $ "
                    "\\ ` | & < > * ?")
        if not self.exists:
            return None
        if self.directory:
            return None if os.path.isdir(path) else "is not a directory on this machine"
        if not os.path.isfile(path):
            return "is not a file on this machine"
        if self.executable and not os.access(path, os.X_OK):
            return "is not a program this build can run"
        return None


@dataclass
class Daemon(Type):
    """The path of a daemon's program that answers as that daemon: ARGUMENTS (its version flag) print
    PATTERN. Another program (/bin/true, which passes every check) would turn the build's checker into a
    no-op and the server into something else."""

    name: str
    arguments: tuple
    pattern: str
    # What each program said before, while its file is the same one (surge.buildout.remembered.Answers): the
    # checks set it for their run; without it every check asks the program.
    answers = None

    def accepts(self):
        return f"the absolute path of {self.name}'s program (``{self.name} {' '.join(self.arguments)}`` names it)"

    def problem(self, value, buildout):
        problem = PROGRAM.problem(value, buildout)
        if problem:
            return problem

        def ask():
            answer = subprocess.run([value, *self.arguments], capture_output=True, text=True, timeout=10)
            return (answer.stdout + answer.stderr).strip()

        try:
            said = Daemon.answers.said(value, self.arguments, ask) if Daemon.answers else ask()
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"does not run as {self.name} ({error})"
        if not re.search(self.pattern, said):
            first = said.splitlines()[0] if said else "nothing"
            return f"is not {self.name}: '{value} {' '.join(self.arguments)}' says {first!r}"
        return None


@dataclass
class Hosts(Type):
    """Host names or addresses separated by white space."""

    description = "host names or IP addresses, no wildcard"

    def problem(self, value, buildout):
        for word in value.split():
            if not valid_host(word) or is_wildcard(word):
                return f"has {word!r}, which is not a host name or IP address"
        return None


# Quotes, ASCII and typographic: each would end the quoted string the pattern lands in (nginx, VCL).
QUOTES = "\"'\u2018\u2019\u201c\u201d"
# Pages every site has, or could: a path pattern that matches one would take the whole site.
ORDINARY_PATHS = ("/", "/front-page", "/news", "/news/a-day-out", "/about/team/jane-doe", "/events/2026")


@dataclass
class Regex(Type):
    """One regular expression per line, as the daemon reads it (PCRE, checked with Python's compatible
    subset: a pattern Python refuses is refused). It lands in a quoted string, so no quote; white space
    would be two patterns on one line. PATHS: a pattern of URL paths must not match an ordinary page
    (ORDINARY_PATHS; an empty alternative matches every path), which would close the site or treat every
    page as the pattern's class."""

    paths: bool = False

    def accepts(self):
        return ("regular expressions of URL paths, one per line, matching none of "
                f"{', '.join(ORDINARY_PATHS)}" if self.paths else "regular expressions, one per line")

    def problem(self, value, buildout):
        for line in filter(None, (line.strip() for line in value.splitlines())):
            try:
                pattern = re.compile(line, re.I)
            except re.error as error:
                return f"has {line!r}, which is not a regular expression ({error})"
            unsafe = next((char for char in line if char.isspace() or char in QUOTES), None)
            if unsafe is not None:
                return (f"has {line!r}, with {unsafe!r}: one pattern per line, no quote or white space "
                        "(\\s matches a space)")
            swallowed = next((path for path in ORDINARY_PATHS if pattern.search(path)), None) if self.paths else None
            if swallowed is not None:
                return (f"has {line!r}, which matches {swallowed!r}, an ordinary page: it would take in the "
                        "whole site")
        return None


@dataclass
class Networks(Type):
    """Addresses and networks in CIDR form, separated by white space. PRIVATE: in production, each one
    loopback or a private range (who may administer the site, or skip its limits, is never the internet,
    however it is written: 0.0.0.0/0, or 0.0.0.0/1 and 128.0.0.0/1)."""

    private: bool = False

    def accepts(self):
        return "addresses or networks (CIDR)" + ("; in production loopback or private ranges" if self.private
                                                 else "")

    def problem(self, value, buildout):
        for word in value.split():
            try:
                network = ipaddress.ip_network(word, strict=False)
            except ValueError:
                return f"has {word!r}, which is not an address or network such as 10.0.0.0/8"
            production = buildout["settings"].get("mode") == "production"
            if self.private and production and not (network.is_loopback or network.is_private):
                return (f"has {word!r}, which is not loopback or a private range: in production it names the "
                        "admins' own networks (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)")
        return None


@dataclass
class Urls(Type):
    schemes: tuple = ("http", "https")

    def accepts(self):
        return f"{' or '.join(self.schemes)} URLs with a host"

    def problem(self, value, buildout):
        for word in value.split():
            parts = urllib.parse.urlsplit(word)
            host = parts.hostname or ""
            try:
                parts.port
            except ValueError:
                return f"has {word!r}, whose port is not a number"
            if parts.scheme not in self.schemes or not host or not valid_host(host):
                return f"has {word!r}, which is not a {' or '.join(self.schemes)} URL with a host"
        return None


@dataclass
class Names(Type):
    """Words matching PATTERN (cookie names, database names, [hosts] keys...)."""

    pattern: str = NAME.pattern
    description: str = "a name"
    section: str = ""

    def problem(self, value, buildout):
        for word in value.split():
            if not re.fullmatch(self.pattern, word):
                return f"has {word!r}, which is not {self.description}"
            if self.section and word not in buildout[self.section]:
                return f"has {word!r}, which is no key of [{self.section}]"
        return None

    def accepts(self):
        return f"words, each {self.description}"


@dataclass
class Setting:
    type: Type
    #: Whether the empty value is allowed (a feature turned off, a list of nothing).
    empty: bool = False

    def accepts(self):
        return self.type.accepts() + ("; or empty" if self.empty else "")


@dataclass
class Schema:
    """The keys a settings section may have, each with its type."""

    section: str
    keys: dict = field(default_factory=dict)

    def problems(self, buildout, where):
        """Every problem of the section as merged: unknown keys and bad values."""
        from surge.buildout.errors import raw

        problems = []
        for key in sorted(raw(buildout).get(self.section, {})):
            if key not in self.keys:
                near = difflib.get_close_matches(key.replace("_", "-"), self.keys, n=1, cutoff=0.6)
                hint = f"; did you mean {near[0]}?" if near else f"; the keys are {', '.join(sorted(self.keys))}"
                problems.append(f"{where(buildout, self.section, key, follow_references=False)} is not a setting "
                                f"of [{self.section}]{hint}")
                continue
            setting = self.keys[key]
            value = buildout[self.section][key].strip()
            if not value:
                if not setting.empty:
                    problems.append(f"{where(buildout, self.section, key)} is empty; it must be "
                                    f"{describe(setting.type)}")
                continue
            problem = setting.type.problem(value, buildout)
            if problem:
                problems.append(f"{where(buildout, self.section, key)} = {value!r} {problem}")
        return problems


def describe(kind):
    return getattr(kind, "description", None) or type(kind).__name__.lower()


# Units as each daemon reads them.
NGINX_TIME = Quantity("duration", ("ms", "s", "m", "h", "d"), examples="30s or 5m")
NGINX_SIZE = Quantity("size", ("k", "m", "g"), unit_required=False, case_sensitive=False, examples="64m or 512k")
VARNISH_TIME = Quantity("duration", ("ms", "s", "m", "h", "d", "w", "y"), examples="30s, 5m or 6h")
VARNISH_SIZE = Quantity("size", ("k", "M", "G", "T"), examples="256M or 1G")
HAPROXY_TIME = Quantity("duration", ("us", "ms", "s", "m", "h", "d"), examples="5s or 30s")
POSTGRES_SIZE = Quantity("size", ("kB", "MB", "GB", "TB"), examples="512MB or 2GB")
ZCONFIG_SIZE = Quantity("size", ("KB", "MB", "GB"), case_sensitive=False, examples="200mb or 2gb")
SUPERVISOR_SIZE = Quantity("size", ("KB", "MB", "GB"), examples="50MB")
NGINX_RATE = Text(r"[1-9][0-9]{0,6}r/[sm]", "a rate such as 10r/s or 30r/m")
RSYSLOG_SIZE = Quantity("size", ("k", "m", "g"), examples="512m or 2g")
SECONDS = Integer(1, unit="seconds")
PROGRAM = Path(exists=True, executable=True)
# A Content Security Policy: known directives, each with its sources, separated by ";". A keyword is in
# ASCII single quotes ('self'); no double quote, typographic quote, backslash or $ (they end nginx's value).
CSP_DIRECTIVE = (r"((default|script|style|img|connect|font|object|media|frame|child|worker|manifest|prefetch)-src"
                 r"(-elem|-attr)?|frame-ancestors|form-action|base-uri|report-uri|report-to|sandbox|trusted-types"
                 r"|upgrade-insecure-requests|require-trusted-types-for)( +('[A-Za-z0-9+/=_-]+'|[^\s;'\"\\$"
                 "\u2018\u2019\u201c\u201d]+))*")
CSP_POLICY = Text(rf" *{CSP_DIRECTIVE}( *; *{CSP_DIRECTIVE})*( *;)? *",
                  "a Content Security Policy: DIRECTIVE SOURCES; ... (keywords in ASCII single quotes; no \", "
                  "\\ or $)")
NGINX = Daemon("nginx", ("-v",), r"^nginx version: nginx/")
VARNISHD = Daemon("varnishd", ("-V",), r"^varnishd \(varnish-")
VARNISHNCSA = Daemon("varnishncsa", ("-V",), r"varnishncsa \(varnish-")
VARNISHSTAT = Daemon("varnishstat", ("-V",), r"varnishstat \(varnish-")
VARNISHADM = Daemon("varnishadm", ("-h",), r"[Uu]sage: varnishadm")
NFT = Daemon("nft", ("--version",), r"^nftables v")
ETCD = Daemon("etcd", ("--version",), r"^etcd Version: ")
PATRONI = Daemon("patroni", ("--version",), r"^patroni \d")
PATRONICTL = Daemon("patronictl", ("version",), r"^patronictl version ")
RSYSLOGD = Daemon("rsyslogd", ("-v",), r"^rsyslogd\s+\d")
HAPROXY = Daemon("haproxy", ("-v",), r"^HAProxy version ")
MEMCACHED_PROGRAM = Daemon("memcached", ("-V",), r"^memcached \d")
MUNIN_NODE = Daemon("munin-node", ("--version",), r"This is munin-node v")
EXISTING_FILE = Path(exists=True)
EXISTING_DIRECTORY = Path(exists=True, directory=True)
HOST_KEYS = Names(r"[\w.-]+", "a [hosts] key", section="hosts")
SQL_NAME = Text(r"[a-z_][a-z0-9_]{0,62}", "a PostgreSQL name (lower case letters, digits, _)")
TICK = Choice(("TICK_5", "TICK_60", "TICK_3600"))
