"""zc.recipe.egg's working sets, kept between builds while nothing they depend on changed.

zc.recipe.egg resolves each distinct ``eggs`` list of a build once (its working
set cache lives on the buildout object, keyed by the list and the options
that decide the resolution) and resolves it again in every build. For Plone's
300 distributions that is about half a second of a production server's
no-op, the small lists of the script parts a tenth each. What a resolution
gives is a list of paths: zc.recipe.egg keeps ``WorkingSet(paths)``
(zc.buildout's ``sort_working_set``), so the same paths give the same working
set.

``var/working-sets.json`` keeps the paths of each resolution with the state
it was made in: the pins in [versions], the listings of the eggs directory
and of the directories zc.buildout and setuptools come from (an egg is
installed whole, under a name with its version) and of the develop-eggs
directory with each entry's size and times (a development build writes its
develop eggs again each time, so it always resolves). A later build takes them
only while that state is the same and the resolution would not ask an index
(offline, or ``newest = false`` as in ``bin/buildout -N``); anything else is
zc.recipe.egg's own resolution, whose paths are kept for the next build. The
record is a cache: a build without it, or with it removed, resolves as
before.
"""

import hashlib
import json
import os

import zc.buildout.easy_install
from zc.buildout.easy_install import pkg_resources
from zc.recipe.egg.egg import Eggs

from surge.buildout import remembered


class Kept(remembered.Kept):
    key = "working-sets"


class RememberedWorkingSets(dict):
    """zc.recipe.egg's working set cache (a dict by cache key) that looks in the record on a miss and
    records each new resolution."""

    def __init__(self, known, settings, record):
        super().__init__(known)
        # zc.buildout installs an egg whole, under a name with its version; a develop egg is written again
        # under the same name (by every development build).
        self.directories = [(settings["eggs-directory"], False), (settings["develop-eggs-directory"], True),
                            *((path, False) for path in zc.buildout.easy_install.buildout_and_setuptools_path)]
        self.kept = Kept(record)

    def __contains__(self, key):
        if dict.__contains__(self, key):
            return True
        entry = self.kept.entries.get(name(key)) if decided_here(key) else None
        if entry is None or entry["state"] != self.state():
            return False
        dict.__setitem__(self, key, pkg_resources.WorkingSet(entry["paths"]))
        return True

    def __setitem__(self, key, working_set):
        dict.__setitem__(self, key, working_set)
        if decided_here(key):
            self.kept.entries[name(key)] = {"state": self.state(), "paths": [dist.location for dist in working_set]}
            self.kept.save()

    def state(self):
        """A digest of what a resolution decides from: the pins and what is installed where it looks."""
        return digest_of([*pin_lines(), *(entry for directory, stat in self.directories
                                          for entry in listing(directory, stat))])


def pins():
    """[versions] as zc.buildout holds it: {canonical project name: version}."""
    return zc.buildout.easy_install.Installer._versions


def pin_lines():
    return sorted(f"{project}={version}" for project, version in pins().items())


def digest_of(lines):
    """The SHA-256 (hex) of LINES, each ended by a newline."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def decided_here(key):
    """Whether a resolution of zc.recipe.egg's cache KEY uses only this machine: offline, or not newest."""
    _, _, _, offline, newest, *_ = key
    return offline or not newest


def name(key):
    return json.dumps(key)


def listing(directory, stat=False):
    """The entries of DIRECTORY, with STAT each one's size and times too."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    if not stat:
        return [entry.name for entry in entries]
    return [f"{entry.name} {found.st_size} {found.st_mtime_ns} {found.st_ctime_ns}"
            for entry, found in ((entry, entry.stat(follow_symlinks=False)) for entry in entries)]


def remember(buildout):
    """zc.recipe.egg's working sets of BUILDOUT kept in its var/working-sets.json from now on."""
    attribute = Eggs._WORKING_SET_CACHE_ATTR_NAME
    settings = buildout["buildout"]
    known = getattr(buildout, attribute, None) or {}
    if not isinstance(known, RememberedWorkingSets):
        record = os.path.join(settings["directory"], "var", "working-sets.json")
        setattr(buildout, attribute, RememberedWorkingSets(known, settings, record))
