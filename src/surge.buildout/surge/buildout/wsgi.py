"""Recipe surge.buildout:wsgi: the instances' wsgi.ini template with Beaker.

A surge.buildout:template for plone.recipe.zope2instance's
``wsgi-ini-template``. With ``request-threads`` and ``spare-threads``
(production), Zope's WSGI server gets both: HAProxy counts the request
threads (its maxconn), the spare ones answer its health checks, which
maxconn does not count. Without them, plone.recipe.zope2instance's own
``threads`` stays (development). ``conflict-retries``, when given, must be
a whole number: it is Zope's ``max-conflict-retries`` in zope.conf.

Derived for the template: ``threads``.
"""

from surge.buildout.origin import fail, where
from surge.buildout.template import Template


class Wsgi(Template):
    def derive(self):
        keys = ("request-threads", "spare-threads")
        production = any(key in self.options for key in keys)
        # conflict-retries goes into zope.conf, which nothing checks at build time: checked here.
        checked = (keys if production else ()) + (("conflict-retries",) if "conflict-retries" in self.options else ())
        fail([f"{where(self.buildout, self.name, key)} = {self.options.get(key, '')!r} is not a whole number"
              for key in checked if not self.options.get(key, "").strip().isdigit()])
        if not production:
            return {"threads": "%(threads)s"}
        return {"threads": str(sum(int(self.options[key]) for key in keys))}
