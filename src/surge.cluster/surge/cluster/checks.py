"""bin/cluster check: every rendered file of a server through its daemon's checker again."""

import configparser
import os

from surge.buildout.checker_command import CheckFailed, check_file


def checked_files(directory):
    """[(part, output, check command)] from the server's .installed.cfg."""
    installed = os.path.join(directory, ".installed.cfg")
    parser = configparser.RawConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    if not parser.read(installed):
        return []
    return [
        (part, parser.get(part, "output"), parser.get(part, "check"))
        for part in parser.sections()
        if parser.get(part, "recipe", fallback="").startswith("surge.buildout:")
        and parser.get(part, "check", fallback="").strip()
    ]


def check_server(directory):
    """[(output, ok, message)] for every checked file of the server built in DIRECTORY."""
    results = []
    for _part, output, command in checked_files(directory):
        try:
            results.append((output, True, check_file(command, output)))
        except CheckFailed as failure:
            results.append((output, False, str(failure)))
    return results
