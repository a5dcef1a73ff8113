"""Recipe surge.buildout:instance: plone.recipe.zope2instance reading its settings section.

Option ``settings`` names the instances' settings section ([instance-settings]
in production, [dev-instance-settings] on the laptop); its ``threads`` and
``zodb-cache-size`` become plone.recipe.zope2instance's options of the same
name, so the fragment names each tunable once and relays none. Every other
option goes to plone.recipe.zope2instance unchanged.

plone.recipe.zope2instance is loaded the way zc.buildout loads any recipe
(``zc.buildout.buildout._install_and_load``: private, but zc.buildout is
pinned in versions.cfg and a change of it fails this recipe at once).
"""

import zc.buildout.buildout

from surge.buildout.errors import ConfigError, where

# plone.recipe.zope2instance's options that the settings section gives.
FROM_SETTINGS = ("threads", "zodb-cache-size")


class Instance:
    def __init__(self, buildout, name, options):
        section = options.get("settings", "").strip()
        if not section:
            raise ConfigError(f"{where(buildout, name, 'settings')} is missing: it names the instances' settings")
        for key in FROM_SETTINGS:
            options[key] = buildout[section][key]
        recipe = zc.buildout.buildout._install_and_load("plone.recipe.zope2instance", "zc.buildout", "default",
                                                        buildout)
        self.recipe = recipe(buildout, name, options)

    def install(self):
        return self.recipe.install()

    def update(self):
        return self.recipe.update()
