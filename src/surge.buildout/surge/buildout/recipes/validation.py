"""Recipe surge.buildout:checks: validate the shared settings before any part is touched.

It is the first part of every build (buildout.d/base.cfg: ``parts = checks``).
zc.buildout constructs every recipe before it uninstalls or installs anything,
so an error raised here leaves every file of the previous build in place.

What it checks, reporting every problem at once with file, section and key:

- every ``${hosts:KEY}``, ``${ports:KEY}``, ``${users:KEY}``, ``${listen:KEY}``
  and ``${...-settings:KEY}`` reference names a key that some file sets;
- every [ports] value is a whole number from 1 to 65535;
- every [hosts] value is a host name or an IP address;
- every [users] value is a user name, and in production every user this
  build refers to (``${users:KEY}``) exists on this machine and is not root;
- every key of every settings section ([settings], [topology],
  [NAME-settings]) is known to the section's schema (surge.buildout.schemas)
  and its value has the key's type; an unknown key is refused with the
  nearest known one;
- no two settings of the server contradict each other
  (surge.buildout.contradictions: pool priorities, memory limit and cache,
  PostgreSQL's connections and the instances' threads, Varnish's grace,
  nginx's and Varnish's timeouts, draining and HAProxy's server timeout,
  in production a web server among the app tier's sources),
  and no identity gives the server away (surge.buildout.identities: the
  Zope and PostgreSQL users their own, HAProxy's group not root's, the
  site's role and database not the superuser's, the logs' or PostgreSQL's);
- no two [listen] entries use the same port on the same host, and none the
  port the firewall keeps open for sshd. An entry is
  ``HOST:PORT`` or ``HOST:PORT+COUNT`` for COUNT consecutive ports. A
  wildcard host (every interface, however written) is refused but for the
  entries that [settings] wildcard-binds names on purpose; in production,
  every other entry's address is one of this machine's;
- in production, what this build says about the other servers matches
  their own top-level files (surge.buildout.across);
- in production, no develop egg and no mr.developer: our packages, the
  build's own recipes included, come from internal releases, each pinned
  with the +surge label (a ``[releases] packages`` name no pin names is
  refused with the nearest pinned one);
- nothing zc.buildout would ignore: a key that nothing reads in [firewall],
  [releases], [apply] or [debian] (with the nearest known one), and an
  option set outside buildout.d/ in a part a fragment defines (a setting
  written into the part instead of its settings section).
"""

import difflib
import os
import pwd
import re
import socket

from surge.buildout import across, contradictions, identities, remembered
from surge.buildout.errors import fail, raw, where
from surge.buildout.network import address_of, is_wildcard, valid_host
from surge.buildout.schema import Daemon
from surge.buildout.schemas import SCHEMAS, is_settings_section

VALUE_SECTIONS = re.compile(r"^(hosts|ports|users|listen|topology|settings|[\w.-]+-settings)$")
REFERENCE = re.compile(r"\$\{([\w.-]+):([\w.-]+)\}")
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
LISTEN = re.compile(r"^\s*(?P<host>\[[^\]]+\]|[^:\s]+):(?P<port>\d+)(\+(?P<count>\d+))?\s*$")


class Checks:
    def __init__(self, buildout, name, options):
        self.buildout = buildout
        # A folder of root's, beside the daemons' own in var/ (a cache, not a built file: parts/ holds those).
        records = os.path.join(buildout["buildout"]["directory"], "var", name)
        fail(missing_references(buildout))
        # Kept for the rest of the build: the parts that render a file check their own settings again.
        answers = Daemon.answers = remembered.Answers(os.path.join(records, "daemons.json"))
        fail(bad_ports(buildout) + bad_hosts(buildout) + bad_users(buildout) + bad_settings(buildout))
        fail(contradictions.problems(buildout) + identities.problems(buildout, referenced(buildout, "users")))
        fail(collisions(buildout) + ssh_collisions(buildout) + wildcard_binds(buildout) + foreign_binds(buildout))
        memory = remembered.Memory(os.path.join(records, "across.json"))
        fail(across.problems(buildout, memory))
        fail(checkouts_in_production(buildout) + unlabelled_releases(buildout) + stray_keys(buildout))
        # Once every check passed: a refused build writes nothing.
        memory.save()
        answers.save()

    def install(self):
        return ()

    update = install


def missing_references(buildout):
    """References into value sections that no file sets."""
    config = raw(buildout)
    problems = []
    for section, values in sorted(config.items()):
        for key, value in sorted(values.items()):
            for target, target_key in REFERENCE.findall(value):
                if not VALUE_SECTIONS.match(target):
                    continue
                if target_key not in config.get(target, {}):
                    problems.append(
                        f"{where(buildout, section, key, follow_references=False)} refers to "
                        f"${{{target}:{target_key}}}, "
                        f"but no file sets [{target}] {target_key}"
                    )
    return problems


def bad_ports(buildout):
    problems = []
    for key in sorted(raw(buildout).get("ports", {})):
        value = buildout["ports"][key].strip()
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            problems.append(f"{where(buildout, 'ports', key)} = {value!r} is not a port number (1 to 65535)")
    return problems


def bad_hosts(buildout):
    problems = []
    for key in sorted(raw(buildout).get("hosts", {})):
        value = buildout["hosts"][key].strip()
        if not valid_host(value):
            problems.append(f"{where(buildout, 'hosts', key)} = {value!r} is not a host name or IP address")
    return problems


def referenced(buildout, section):
    """Keys of SECTION that some value of the configuration refers to."""
    return {
        key
        for values in raw(buildout).values()
        for value in values.values()
        for target, key in REFERENCE.findall(value)
        if target == section
    }


def bad_users(buildout):
    production = buildout["settings"].get("mode", "development") == "production"
    used = referenced(buildout, "users")
    problems = []
    for key in sorted(raw(buildout).get("users", {})):
        value = buildout["users"][key].strip()
        if not USERNAME.match(value):
            problems.append(f"{where(buildout, 'users', key)} = {value!r} is not a user name")
            continue
        if production and key in used:
            try:
                user = pwd.getpwnam(value)
            except KeyError:
                problems.append(
                    f"{where(buildout, 'users', key)} = {value!r}: no such user on this machine "
                    f"(create it with: adduser --system {value})"
                )
                continue
            if user.pw_uid == 0:
                problems.append(f"{where(buildout, 'users', key)} = {value!r} is root: a production daemon runs "
                                "as a system user of its own (adduser --system)")
    return problems


def bad_settings(buildout):
    """Unknown keys and values of the wrong type in every settings section."""
    problems = []
    for section in sorted(raw(buildout)):
        if not is_settings_section(section):
            continue
        schema = SCHEMAS.get(section)
        if schema is None:
            key = sorted(raw(buildout)[section])[0] if raw(buildout)[section] else None
            problems.append(f"{where(buildout, section, key) if key else f'[{section}]'}: [{section}] has no "
                            "schema; give it one in surge.buildout (docs/machinery.rst)")
            continue
        problems.extend(schema.problems(buildout, where))
    return problems


# Sections Surge defines that are no settings section, and the keys something reads in each.
READ_KEYS = {
    "firewall": ("allow", "local-users"),
    "releases": ("find-links", "packages"),
    "apply": ("actions",),
    "debian": ("packages", "services", "users"),
}
NOT_A_FILE = ("DEFAULT_VALUE", "COMPUTED_VALUE", "COMMAND_LINE_VALUE")


def stray_keys(buildout):
    """Keys zc.buildout would read and ignore: a typo in a section of READ_KEYS, or an option a top-level
    file sets in a part of a fragment (the part never reads it, or must not be changed there)."""
    config = raw(buildout)
    problems = []
    for section, keys in READ_KEYS.items():
        for key in sorted(set(config.get(section, {})) - set(keys)):
            near = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
            problems.append(f"{where(buildout, section, key, follow_references=False)}: nothing reads this key"
                            + (f"; did you mean {near[0]}?" if near else f"; [{section}] has {', '.join(keys)}"))
    fragments = os.sep + "buildout.d" + os.sep
    for section, values in sorted(config.items()):
        if "recipe" not in values or not from_fragment(buildout, section, "recipe", fragments):
            continue
        for key in sorted(values):
            if not from_fragment(buildout, section, key, fragments):
                settings = values.get("settings", "").strip()
                fragment = os.path.relpath(buildout._annotated[section]["recipe"].source,
                                           config["buildout"]["directory"])
                problems.append(
                    f"{where(buildout, section, key, follow_references=False)}: [{section}] is a part of {fragment}; "
                    + (f"settings go in [{settings}]" if settings else "its options are the fragment's"))
    return problems


def from_fragment(buildout, section, key, fragments):
    """Whether every file that set or changed [section] key is a fragment (in a buildout.d/ directory), or
    zc.buildout itself, or the command line."""
    try:
        history = buildout._annotated[section][key].history
    except KeyError:
        # Made by an extension while it loaded (mr.developer's [_mr.developer]), not by a file.
        return True
    return all(item.source in NOT_A_FILE or fragments in item.source for item in history)


def listen_entries(buildout):
    """[(key, host, first_port, last_port)] from [listen], or problems."""
    entries, problems = [], []
    for key in sorted(raw(buildout).get("listen", {})):
        value = buildout["listen"][key]
        match = LISTEN.match(value)
        if not match:
            problems.append(f"{where(buildout, 'listen', key)} = {value!r} is not HOST:PORT or HOST:PORT+COUNT"
                            f"{referenced_values(buildout, 'listen', key)}")
            continue
        first = int(match["port"])
        count = int(match["count"] or 1)
        last = first + count - 1
        if not (1 <= first and last <= 65535 and count >= 1):
            problems.append(f"{where(buildout, 'listen', key)} = {value!r} leaves the port range 1 to 65535")
            continue
        entries.append((key, match["host"].strip("[]"), first, last))
    return entries, problems


def collisions(buildout):
    entries, problems = listen_entries(buildout)
    resolved = [(key, host, address_of(host), first, last) for key, host, first, last in entries]
    for index, (key, host, address, first, last) in enumerate(resolved):
        for other_key, other_host, other_address, other_first, other_last in resolved[index + 1:]:
            same_host = address == other_address or "*" in (address, other_address)
            if same_host and first <= other_last and other_first <= last:
                port = max(first, other_first)
                problems.append(
                    f"{where(buildout, 'listen', key)} ({host}:{first}"
                    f"{'-%d' % last if last != first else ''}) and "
                    f"{where(buildout, 'listen', other_key)} ({other_host}:{other_first}"
                    f"{'-%d' % other_last if other_last != other_first else ''}) both use port {port}"
                    f"{port_origin(buildout, key)}{port_origin(buildout, other_key)}"
                )
    return problems


def ssh_collisions(buildout):
    """[listen] entries on the port the firewall keeps open for sshd (which listens on every address)."""
    ssh_port = raw(buildout).get("firewall-settings", {}).get("ssh-port")
    if ssh_port is None or not buildout["firewall-settings"]["ssh-port"].isdigit():
        return []
    port = int(buildout["firewall-settings"]["ssh-port"])
    entries, _ = listen_entries(buildout)
    return [
        f"{where(buildout, 'firewall-settings', 'ssh-port')} = '{port}' is also the port of "
        f"{where(buildout, 'listen', key)} ({buildout['listen'][key]}): sshd and that service cannot share it"
        for key, _, first, last in entries if first <= port <= last
    ]


def foreign_binds(buildout):
    """In production, [listen] entries on an address this machine does not have: a production build runs
    on the server it builds, and a daemon cannot bind another's address (it fails at start, not here)."""
    if buildout["settings"].get("mode") != "production":
        return []
    entries, _ = listen_entries(buildout)
    problems = []
    for key, host, _, _ in entries:
        address = address_of(host)
        if address == "*":
            continue
        try:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((address, 0))
        except (OSError, UnicodeError) as error:
            problems.append(f"{where(buildout, 'listen', key)} = {buildout['listen'][key]!r}: {host} "
                            f"({address}) is no address of this machine ({error.strerror or error}); a production "
                            f"build runs on the server it builds{referenced_values(buildout, 'listen', key)}")
    return problems


def wildcard_binds(buildout):
    """[listen] entries on every interface that [settings] wildcard-binds does not name."""
    entries, _ = listen_entries(buildout)
    allowed = set(buildout["settings"].get("wildcard-binds", "").split())
    return [
        f"{where(buildout, 'listen', key)} = {buildout['listen'][key]!r} binds every interface; a private "
        f"service listens on its server's address only (name it in [settings] wildcard-binds to mean it)"
        for key, host, _, _ in entries if is_wildcard(host)
        if key not in allowed
    ]


def referenced_values(buildout, section, key):
    """'; from [x] y = 'v' (file)' for every setting a value refers to."""
    return "".join(
        f"; it uses {where(buildout, target, target_key)} = {buildout[target][target_key]!r}"
        for target, target_key in REFERENCE.findall(raw(buildout)[section][key])
    )


def port_origin(buildout, listen_key):
    """'; [ports] x is set in y.cfg' for the [ports] keys a [listen] entry uses."""
    value = raw(buildout)["listen"][listen_key]
    return "".join(
        f"; {where(buildout, 'ports', key)} = {buildout['ports'][key]}"
        for section, key in REFERENCE.findall(value)
        if section == "ports" and key in raw(buildout).get("ports", {})
    )


def unlabelled_releases(buildout):
    """Pins of our released packages without a local version label, in production.

    PEP 440: ``==1.0.0`` also matches ``1.0.0+surge``, and zc.buildout prefers the
    index's copy of an equal version to the release folder's; the public index
    refuses local labels, so only ``==1.0.0+surge`` is ours alone.
    """
    if buildout["settings"].get("mode") != "production":
        return []
    versions = buildout[buildout["buildout"].get("versions", "versions")]
    problems = []
    for package in buildout["releases"].get("packages", "").split():
        pin = versions.get(package, "")
        if not pin:
            near = difflib.get_close_matches(package, list(versions), n=1)
            problems.append(f"{where(buildout, 'releases', 'packages')} names {package!r}, which no pin of "
                            f"[versions] names{f'; did you mean {near[0]}?' if near else ''}")
        elif "+" not in pin:
            problems.append(f"{where(buildout, 'versions', package)} = {pin!r} has no local version label "
                            f"(+surge): the public index could serve a same-named {package} of that version "
                            "instead of our release (docs/releasing.rst)")
    return problems


def checkouts_in_production(buildout):
    if buildout["settings"].get("mode") != "production":
        return []
    config = raw(buildout)
    why = ("a production build installs our packages from internal releases pinned in versions.cfg, "
           "never from a checkout (docs/releasing.rst)")
    problems = [
        f"{where(buildout, 'buildout', 'develop')} includes {path}: {why}"
        for path in config["buildout"].get("develop", "").split()
    ]
    if "mr.developer" in config["buildout"].get("extensions", "").split():
        problems.append(f"{where(buildout, 'buildout', 'extensions')} includes mr.developer: {why}")
    return problems
