"""bin/create-site: create the Plone site with the policy installed, once.

Run it beside a running instance or without one: the development database
(RelStorage on SQLite) and production's (RelStorage on PostgreSQL) both accept
several processes. When the site exists it changes nothing.
"""

import argparse
import sys

import transaction

POLICY_PROFILE = "surge.policy:default"
DISTRIBUTION = "classic"


def open_zope(zope_conf):
    """The Zope root, with a request and the system user, as a script needs."""
    from AccessControl import SpecialUsers
    from AccessControl.SecurityManagement import newSecurityManager
    from Testing.makerequest import makerequest
    from zope.globalrequest import setRequest
    from Zope2.Startup.run import configure_wsgi

    configure_wsgi(zope_conf)
    import Zope2

    app = makerequest(Zope2.app())
    setRequest(app.REQUEST)
    # SpecialUsers.system is only set once Zope has started.
    newSecurityManager(None, SpecialUsers.system)
    return app


def ensure_site(app, site_id, title):
    """Create the site unless it exists; True when it was created."""
    from plone.base.interfaces import IPloneSiteRoot
    from Products.CMFPlone.factory import addPloneSite

    existing = app.get(site_id)
    if existing is not None:
        if not IPloneSiteRoot.providedBy(existing):
            raise SystemExit(f"create-site: /{site_id} exists and is not a Plone site")
        return False
    site = addPloneSite(
        app,
        site_id,
        title=title,
        distribution_name=DISTRIBUTION,
        setup_content=True,
        default_language="en",
    )
    site.portal_setup.runAllImportStepsFromProfile("profile-" + POLICY_PROFILE)
    transaction.get().note(f"create-site: /{site_id} with {POLICY_PROFILE}")
    transaction.commit()
    return True


def main(zope_conf, site_id, argv=None):
    parser = argparse.ArgumentParser(
        prog="create-site",
        description="Create the Plone site with the surge.policy profile unless it exists.",
    )
    parser.add_argument("--site-id", default=site_id, help="id in the Zope root (default: %(default)s)")
    parser.add_argument("--title", default="Surge", help="site title (default: %(default)s)")
    parser.add_argument("--zope-conf", default=zope_conf, help="the instance's zope.conf")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(f"create-site: opening the database of {args.zope_conf}", flush=True)
    app = open_zope(args.zope_conf)
    try:
        if ensure_site(app, args.site_id, args.title):
            print(f"create-site: created /{args.site_id} with {POLICY_PROFILE}")
        else:
            print(f"create-site: /{args.site_id} exists; nothing to do")
    finally:
        transaction.abort()
        app._p_jar.close()
    return 0
