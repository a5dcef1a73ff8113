"""bin/create-site: create the Plone site with the policy installed, once.

Run it beside a running instance or without one: the development database
(RelStorage on SQLite) and production's (RelStorage on PostgreSQL) both accept
several processes. When the site exists it changes nothing, except that it
brings the deployment's Varnish list (purging) into the site's registry when
that differs, so it is safe to run on every deployment.
"""

import argparse
import sys

import transaction

from surge.policy.scripts.zopeapp import open_zope, require_user

POLICY_PROFILE = "surge.policy:default"
DISTRIBUTION = "classic"


PURGING = "plone.cachepurging.interfaces.ICachePurgingSettings"


def sync_purging(site, proxies):
    """Make Plone purge exactly these Varnishes; True when something changed."""
    from plone.registry.interfaces import IRegistry
    from zope.component import getUtility
    from zope.component.hooks import setSite

    setSite(site)
    registry = getUtility(IRegistry)
    wanted = {
        f"{PURGING}.enabled": bool(proxies),
        f"{PURGING}.cachingProxies": tuple(proxies),
        # Varnish's cache key is the virtual host URL nginx builds.
        f"{PURGING}.virtualHosting": True,
    }
    changed = {key: value for key, value in wanted.items() if registry.get(key) != value}
    for key, value in changed.items():
        registry[key] = value
    return bool(changed)


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


def main(zope_conf, site_id, caching_proxies="", run_as="", argv=None):
    parser = argparse.ArgumentParser(
        prog="create-site",
        description="Create the Plone site with the surge.policy profile unless it exists.",
    )
    parser.add_argument("--site-id", default=site_id, help="id in the Zope root (default: %(default)s)")
    parser.add_argument("--title", default="Surge", help="site title (default: %(default)s)")
    parser.add_argument("--zope-conf", default=zope_conf, help="the instance's zope.conf")
    parser.add_argument("--caching-proxy", action="append", default=caching_proxies.split(), dest="proxies",
                        metavar="URL", help="a Varnish Plone purges (default: from buildout)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    require_user(run_as, "create-site")
    print(f"create-site: opening the database of {args.zope_conf}", flush=True)
    app = open_zope(args.zope_conf)
    try:
        if ensure_site(app, args.site_id, args.title):
            print(f"create-site: created /{args.site_id} with {POLICY_PROFILE}")
        else:
            print(f"create-site: /{args.site_id} exists; nothing to do")
        if args.proxies and sync_purging(app[args.site_id], args.proxies):
            transaction.get().note("create-site: purging " + " ".join(args.proxies))
            transaction.commit()
            print(f"create-site: Plone purges {' '.join(args.proxies)}")
    finally:
        transaction.abort()
        app._p_jar.close()
    return 0
