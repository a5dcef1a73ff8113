"""The secrets file: an INI file whose [secrets] section maps names to values.

One module reads and writes it for everyone: the secrets recipe, bin/logs,
bin/cluster, the load test and the tests. Writes are atomic (a new file
beside the old one, renamed over it) and the file is mode 0600 from the
moment it exists.
"""

import configparser
import os
import secrets as random

SECTION = "secrets"


class SecretsFileError(Exception):
    """The file cannot be read, is not an INI file, or lacks a secret; the message says which."""


def parser_of(path):
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    try:
        with open(path, encoding="utf-8") as stream:
            parser.read_file(stream)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SecretsFileError(f"cannot read {path}: {error.strerror}") from None
    except configparser.Error as error:
        raise SecretsFileError(f"{path} is not a valid secrets file: {error}") from None
    return parser


def read(path, section=SECTION):
    """{name: value} of SECTION in PATH; {} when the file or the section does not exist."""
    parser = parser_of(path)
    return dict(parser.items(section)) if parser.has_section(section) else {}


def value(path, name, section=SECTION):
    """One secret; SecretsFileError naming the file and the name when it is not there."""
    if not os.path.exists(path):
        raise SecretsFileError(f"{path} does not exist")
    found = read(path, section).get(name, "")
    if not found.strip():
        raise SecretsFileError(f"{path} has no [{section}] {name}")
    return found


def write(path, values, comment, section=SECTION):
    """Write VALUES as SECTION of PATH (mode 0600, atomically), keeping the file's other sections."""
    parser = parser_of(path)
    if parser.has_section(section):
        parser.remove_section(section)
    parser[section] = values
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    staged = path + ".new"
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(f"# {comment}\n")
        parser.write(stream)
    os.replace(staged, path)


def ensure(path, names, comment, section=SECTION):
    """Generate the secrets of NAMES that PATH lacks (strong, random); return {name: value} of all of them
    and the list of names generated."""
    values = read(path, section)
    missing = [name for name in names if not values.get(name, "").strip()]
    if missing or not os.path.exists(path):
        values.update({name: random.token_urlsafe(24) for name in missing})
        write(path, values, comment, section)
    return {name: values[name] for name in names}, missing
