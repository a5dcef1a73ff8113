"""What the checks learn that stays true between builds: the other servers' configurations as
surge.buildout.across reads them, and what each daemon's program answered (Answers).

Loading another server's top-level file with zc.buildout (every file it
extends merged and deep-copied at each step) was a third of a production
build's no-op. So a build keeps, in ``var/checks/across.json`` (mode
0600, in a folder of root's), each value the checks read of each other server's
file, with the SHA-256 of every file zc.buildout opened to build that
configuration: the top-level file, each file it extends, the user's
defaults. A later build loads nothing while every one of those files is
unchanged and the checks read only values it keeps; a file changed, gone
or new (a user's defaults that appeared) makes the next value read load the
file again and start its record afresh, and so does a value not kept yet (a
check added). A file extended from a URL is never remembered: its content
can change without its address. The record is written only by a build whose
checks passed, and holds no secret: the checks read addresses, ports,
counts and names (of secrets too, never their values).

The checks ask each daemon's program who it is (``patroni --version``), so
that another program in its place is refused; ``var/checks/daemons.json``
keeps each answer with the program file's device, inode, size and times,
which a package upgrade or any other replacement changes.
"""

import importlib.metadata
import json
import os
import sys

import zc.buildout.buildout

from surge.buildout.ops.apply import digest

# What else decides what zc.buildout builds of the same files.
FORMAT = {"format": 1, "zc.buildout": importlib.metadata.version("zc.buildout"), "python": sys.executable}
# What digest() says of a file that is not there.
GONE = None


def unchanged(files):
    """Whether every file of FILES ({path: digest}) is as it was, the user's defaults where they were."""
    return (files is not None and zc.buildout.buildout._get_user_config() in files
            and all(digest(path) == known for path, known in files.items()))


def load_and_list(path, load):
    """(LOAD(PATH), {file: digest} of every file zc.buildout opened for it, or None if one is a URL)."""
    opened, original = [], zc.buildout.buildout._open

    def recording(base, filename, *args):
        isurl = zc.buildout.buildout._isurl
        opened.append(None if isurl(filename) or isurl(base) else os.path.join(base, filename))
        return original(base, filename, *args)

    zc.buildout.buildout._open = recording  # _open calls itself by this name for each file it extends
    try:
        config = load(path)
    finally:
        zc.buildout.buildout._open = original
    if None in opened:
        return config, None
    files = {name: digest(name) for name in opened}
    files.setdefault(zc.buildout.buildout._get_user_config(), GONE)
    return config, files


class Kept:
    """A record of what stays true between builds, read from FILE as ``{"about": FORMAT, KEY: entries}``
    (no entries if unreadable or from another zc.buildout or Python) and written only when it changed."""

    key = None

    def __init__(self, file):
        self.file = file
        try:
            with open(file) as stream:
                self.text = stream.read()
            kept = json.loads(self.text)
        except (OSError, ValueError):
            self.text, kept = "", {}
        self.entries = kept.get(self.key, {}) if kept.get("about") == FORMAT else {}

    def save(self):
        """The entries written to FILE, if there are any and they changed."""
        text = json.dumps({"about": FORMAT, self.key: self.entries}, sort_keys=True)
        if self.entries and text != self.text:
            write_private(self.file, text)


class Memory(Kept):
    """What one build remembers of the other servers' files: an entry per top-level file."""

    key = "records"

    def config(self, path, load):
        """The configuration of the top-level file PATH, loaded with LOAD only if a value is not known."""
        return Remembered(self, path, load)


def write_private(file, text):
    """TEXT written whole into FILE, mode 0600, in a folder only its owner enters."""
    os.makedirs(os.path.dirname(file), mode=0o700, exist_ok=True)
    temporary = f"{file}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
    os.replace(temporary, file)


def program_stamp(path):
    """What changes when the program at PATH is replaced (a package upgrade writes a new file): the real
    file's device, inode, size and times; None if it is not there."""
    try:
        found = os.stat(os.path.realpath(path))
    except OSError:
        return None
    return [found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns]


class Answers(Kept):
    """What each daemon's program said when the checks asked it who it is (``patroni --version`` is a
    Python start of a sixth of a second), kept while the program's file is the same one.
    """

    key = "answers"

    def said(self, program, arguments, ask):
        """What PROGRAM said to ARGUMENTS: kept, or ASK() (which raises when the program does not run)."""
        key = " ".join([program, *arguments])
        stamp = program_stamp(program)
        kept = self.entries.get(key)
        if stamp is not None and kept is not None and kept["program"] == stamp:
            return kept["said"]
        said = ask()
        if stamp is not None:
            self.entries[key] = {"program": stamp, "said": said}
        return said


class Remembered:
    """Another server's configuration: config[SECTION][KEY], .get(KEY, default), ._raw.get(SECTION) (its
    keys), from the record while its files are unchanged; anything else from the loaded file."""

    def __init__(self, memory, path, load):
        self.memory, self.path, self.load, self.loaded = memory, path, load, None
        record = memory.entries.get(path)
        if record is None or not unchanged(record["files"]):
            self.start_record()

    def start_record(self, files=None):
        self.memory.entries[self.path] = {"files": files, "values": {}, "keys": {}}

    @property
    def record(self):
        return self.memory.entries[self.path]

    def real(self):
        if self.loaded is None:
            self.loaded, files = load_and_list(self.path, self.load)
            if files != self.record["files"]:
                self.start_record(files)
        return self.loaded

    def known(self, kind, section, key, read):
        """The record's KIND entry for SECTION and KEY, read from the loaded file (READ(config)) if missing."""
        entries = self.record[kind].setdefault(section, {})
        if key not in entries:
            found = read(self.real())
            self.record[kind].setdefault(section, {})[key] = found  # real() may have started a new record
            return found
        return entries[key]

    def __getitem__(self, section):
        return RememberedSection(self, section)

    @property
    def _raw(self):
        return RememberedRaw(self)

    def __getattr__(self, name):
        return getattr(self.real(), name)


class RememberedSection:
    def __init__(self, remembered, section):
        self.remembered, self.section = remembered, section

    def get(self, key, default=None):
        value = self.remembered.known("values", self.section, key, lambda config: config[self.section].get(key))
        return default if value is None else value

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            return self.remembered.real()[self.section][key]  # zc.buildout's own error
        return value


class RememberedRaw:
    """A configuration's unsubstituted sections as the checks ask them: which keys a section sets."""

    def __init__(self, remembered):
        self.remembered = remembered

    def get(self, section, default=None):
        keys = self.remembered.known("keys", "", section,
                                     lambda config: sorted(config._raw[section]) if section in config._raw else None)
        return default if keys is None else dict.fromkeys(keys, "")

    def __getitem__(self, section):
        return self.remembered.real()._raw[section]

    def __contains__(self, section):
        return self.get(section) is not None
