"""Secrets in a build: taken by name from the secrets file when a file is
written, never carried in a part's options (zc.buildout keeps every part's
options in .installed.cfg, in clear), and written only into files that
their owner and the one service reading them can open.

A part names the secrets it uses (``secrets = beaker-secret``); an option
that plone.recipe.zope2instance reads holds ``{secret:NAME}`` instead of
the value, and surge.buildout:instance puts the value in while it writes
the instance's files. ``{login:NAME:ROLE}`` stands for the login role that
holds the secret NAME as its password (``login_name``). ``digest()`` gives such a part an option that
changes when a secret changes, so zc.buildout reinstalls it, and that
tells nothing about the values.
"""

import hashlib
import hmac
import os
import pwd
import re

from surge.buildout import secretsfile
from surge.buildout.errors import ConfigError, where

PLACEHOLDER = re.compile(r"\{secret:([A-Za-z0-9_-]+)\}")
LOGIN_PLACEHOLDER = re.compile(r"\{login:([A-Za-z0-9_-]+):([a-z_][a-z0-9_]*)\}")


def values(buildout, names, part, key):
    """{name: value} of NAMES from the build's secrets file.

    Reading [secrets-file] first makes zc.buildout construct that part, which
    generates the missing development secrets or refuses a bad production file.
    """
    section = buildout["secrets-file"]
    listed = section.get("names", "").split()
    unlisted = [name for name in names if name not in listed]
    if unlisted:
        raise ConfigError(f"{where(buildout, part, key)} names the secrets {', '.join(unlisted)}, "
                          "which [secrets] names does not list")
    found = secretsfile.read(section["file"])
    return {name: found[name] for name in names}


def digest(found):
    """A fingerprint of the values FOUND: it changes when one changes and, keyed by them all, reveals none."""
    key = "\0".join(found[name] for name in sorted(found)).encode()
    return hmac.new(key, b"surge secrets", hashlib.sha256).hexdigest()[:16]


def placeholders(text):
    return PLACEHOLDER.findall(text) + [name for name, _ in LOGIN_PLACEHOLDER.findall(text)]


def substitute(text, found):
    text = LOGIN_PLACEHOLDER.sub(lambda match: login_name(match.group(2), found[match.group(1)]), text)
    return PLACEHOLDER.sub(lambda match: found[match.group(1)], text)


# The two logins of a role whose password rotates: ROLE_a and ROLE_b.
LOGINS = "ab"


def parity(value):
    """One bit of VALUE's SHA-256, as a letter of LOGINS. It tells nothing useful about a strong value."""
    return LOGINS[hashlib.sha256(value.encode()).digest()[0] & 1]


def login_name(role, value):
    """The login role whose password is VALUE: ROLE_a or ROLE_b, by the value's parity. A new value of the
    other parity goes to the other login, so the old one keeps working until it is retired."""
    return f"{role}_{parity(value)}"


def other_login(role, value):
    """The login that VALUE's does not use: the one a previous value went to."""
    return f"{role}_{LOGINS.replace(parity(value), '')}"


def build_user():
    return pwd.getpwuid(os.geteuid()).pw_name


def reader_group(reader):
    """The group id that gives READER (a user name) a file: its primary group; None when READER is the build user."""
    if not reader or reader == build_user():
        return None
    try:
        return pwd.getpwnam(reader).pw_gid
    except KeyError:
        raise ConfigError(f"the user {reader!r}, who reads a file holding a secret, does not exist here") from None


def protected_mode(mode, gid):
    """MODE without anything for others; the group gets the owner's read and execute when GID is given."""
    return (mode & 0o700) | ((mode & 0o500) >> 3) if gid is not None else mode & 0o700


def protect(path, reader=None):
    """Leave PATH (a file or a whole tree) to its owner and READER's group: group read (and
    search/execute where the owner has it), nothing for others; owner only when READER is
    the build user or none."""
    gid = reader_group(reader)
    for entry in walk(path):
        if gid is not None:
            try:
                os.chown(entry, -1, gid, follow_symlinks=False)
            except PermissionError:
                raise ConfigError(f"cannot give {entry} to the group of {reader}: build as root or as a "
                                  "member of that group") from None
        os.chmod(entry, protected_mode(os.lstat(entry).st_mode, gid))


def walk(path):
    yield path
    if os.path.isdir(path) and not os.path.islink(path):
        for directory, subdirectories, files in os.walk(path):
            for name in subdirectories + files:
                entry = os.path.join(directory, name)
                if not os.path.islink(entry):
                    yield entry
