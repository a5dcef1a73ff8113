"""Recipe surge.buildout:directories: directories a daemon writes, owned by its user.

Options:

paths
    Directories to create (with their parents).
owner
    The system user that must own them (a [users] value). When the build runs
    as root they are given to that user; otherwise the owner must be the
    build user, since only root can give files away.
mode
    Octal mode (default 0750).

Existing directories are only given the owner and mode; nothing inside is
touched, and nothing is removed when the part goes away (runtime state).
"""

import os
import pwd

from surge.buildout.errors import ConfigError, where


class Directories:
    def __init__(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.paths = options.get("paths", "").split()
        if not self.paths:
            raise ConfigError(f"{where(buildout, name, 'paths')} lists no directory")
        owner = options.get("owner", "").strip()
        try:
            self.user = pwd.getpwnam(owner)
        except KeyError:
            raise ConfigError(f"{where(buildout, name, 'owner')} = {owner!r}: no such user on this machine")
        if os.geteuid() != 0 and self.user.pw_uid != os.geteuid():
            raise ConfigError(
                f"{where(buildout, name, 'owner')} = {owner!r}: only root can give directories to another user; "
                "build as root, or set the user to the build user"
            )
        try:
            self.mode = int(options.get("mode", "0750"), 8)
        except ValueError:
            raise ConfigError(f"{where(buildout, name, 'mode')} = {options['mode']!r} is not an octal mode")

    def install(self):
        for path in self.paths:
            os.makedirs(path, exist_ok=True)
            if os.geteuid() == 0:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
            os.chmod(path, self.mode)
        return ()

    update = install
