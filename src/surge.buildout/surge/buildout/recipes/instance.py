"""Recipe surge.buildout:instance: plone.recipe.zope2instance reading its settings section.

Option ``settings`` names the instances' settings section ([instance-settings]
in production, [dev-instance-settings] on the laptop); its ``threads`` and
``zodb-cache-size`` become plone.recipe.zope2instance's options of the same
name, so the fragment names each tunable once and relays none. Every other
option goes to plone.recipe.zope2instance unchanged.

Secrets: an option may hold ``{secret:NAME}`` (the DSN in ``rel-storage``,
``user``); the value from the secrets file replaces it only while
plone.recipe.zope2instance writes the instance's files, so no secret reaches
the options zc.buildout keeps in .installed.cfg (``secrets-digest`` stands for
them: it changes when one changes). Afterwards the instance's directory is
its owner's and ``reader``'s group's only (the Zope user in production), and
Zope's ``inituser`` holds a salted hash (SSHA) instead of the unsalted SHA-1
plone.recipe.zope2instance writes.

plone.recipe.zope2instance is loaded the way zc.buildout loads any recipe
(``zc.buildout.buildout._install_and_load``: private, but zc.buildout is
pinned in versions.cfg and a change of it fails this recipe at once).
"""

import os

import zc.buildout.buildout
from AuthEncoding import AuthEncoding

from surge.buildout import build_secrets
from surge.buildout.errors import ConfigError, where

# The recipe this one loads (surge.buildout.recipes.parallel_eggs installs it early).
LOADS = "plone.recipe.zope2instance"
# plone.recipe.zope2instance's options that the settings section gives.
FROM_SETTINGS = ("threads", "zodb-cache-size")


class Instance:
    def __init__(self, buildout, name, options):
        section = options.get("settings", "").strip()
        if not section:
            raise ConfigError(f"{where(buildout, name, 'settings')} is missing: it names the instances' settings")
        for key in FROM_SETTINGS:
            options[key] = buildout[section][key]
        self.options = options
        self.placed, self.secrets = {}, {}
        for key, value in options.items():
            names = build_secrets.placeholders(value)
            if names:
                self.placed[key] = value
                self.secrets.update(build_secrets.values(buildout, names, name, key))
        if self.secrets:
            options["secrets-digest"] = build_secrets.digest(self.secrets)
        self.reader = options.get("reader", "").strip()
        build_secrets.reader_group(self.reader)
        recipe = zc.buildout.buildout._install_and_load(LOADS, "zc.buildout", "default",
                                                        buildout)
        self.recipe = recipe(buildout, name, options)

    def install(self):
        return self.write(self.recipe.install)

    def update(self):
        return self.write(self.recipe.update)

    def write(self, step):
        """Run plone.recipe.zope2instance's STEP with the secrets in place, then protect what it wrote."""
        for key, value in self.placed.items():
            self.options[key] = build_secrets.substitute(value, self.secrets)
        try:
            installed = step()
        finally:
            for key, value in self.placed.items():
                self.options[key] = value
        location = self.options["location"]
        self.salt_inituser(os.path.join(location, "inituser"))
        build_secrets.protect(location, self.reader)
        return installed

    def salt_inituser(self, path):
        """Rewrite Zope's initial user with a salted hash of the password."""
        if not os.path.exists(path):
            return
        user, password = build_secrets.substitute(self.placed.get("user", self.options.get("user", "")),
                                                  self.secrets).split(":", 1)
        with open(path) as stream:
            old_user, _, old_hash = stream.read().strip().partition(":")
        if old_user == user and old_hash.startswith("{SSHA}") and AuthEncoding.pw_validate(old_hash, password):
            return  # salted already, for this password: an unchanged build changes nothing
        hashed = AuthEncoding.pw_encrypt(password.encode(), "SSHA").decode()
        descriptor = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(f"{user}:{hashed}\n")
        os.replace(path + ".new", path)
