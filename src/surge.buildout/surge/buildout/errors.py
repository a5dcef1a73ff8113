"""Say which file set a setting, so that every error names file, section and key.

zc.buildout keeps, for the ``annotate`` command, the history of every key of
the merged configuration (``Buildout._annotated``). That attribute is private;
zc.buildout is pinned in versions.cfg and tests/test_checks.py fails loudly if
its shape changes.
"""

import os
import re

import zc.buildout

SINGLE_REFERENCE = re.compile(r"^\s*\$\{([\w.-]*):([\w.-]+)\}\s*$")

_NOT_A_FILE = {
    "DEFAULT_VALUE": "zc.buildout's defaults",
    "COMPUTED_VALUE": "a computed value",
    "COMMAND_LINE_VALUE": "the command line",
}


class ConfigError(zc.buildout.UserError):
    """A bad setting: the message names the file, section and key."""


def raw(buildout):
    """The merged configuration before substitution: {section: {key: value}}."""
    return buildout._raw


def source_file(buildout, section, key):
    """The file (relative to the buildout directory) that last set [section] key."""
    try:
        source = buildout._annotated[section][key].source
    except KeyError:
        return "no file"
    if source in _NOT_A_FILE:
        return _NOT_A_FILE[source]
    directory = buildout._raw["buildout"].get("directory", os.getcwd())
    if os.path.isabs(source) and source.startswith(directory.rstrip(os.sep) + os.sep):
        return os.path.relpath(source, directory)
    return source


def follow(buildout, section, key):
    """Where a value really comes from: a value that is just ${other:key} leads there."""
    seen = set()
    while (section, key) not in seen:
        seen.add((section, key))
        match = SINGLE_REFERENCE.match(buildout._raw.get(section, {}).get(key, ""))
        if not match:
            break
        section, key = match.group(1) or section, match.group(2)
    return section, key


def where(buildout, section, key, follow_references=True):
    """'prod-web-1.cfg: [ports] nginx-https' for messages, naming the setting a user edits."""
    if follow_references:
        section, key = follow(buildout, section, key)
    return f"{source_file(buildout, section, key)}: [{section}] {key}"


def fail(problems):
    """Raise one ConfigError listing every problem (a list of strings)."""
    if problems:
        if len(problems) == 1:
            raise ConfigError(problems[0])
        raise ConfigError(
            f"{len(problems)} problems in the configuration:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )

