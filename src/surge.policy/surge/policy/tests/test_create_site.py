"""bin/create-site's logic: create once, then leave the site alone."""

import unittest

from plone.app.testing import SITE_OWNER_NAME, login
from plone.base.interfaces import IPloneSiteRoot

from surge.policy.scripts.create_site import ensure_site
from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING, SURGE_POLICY_INTEGRATION_TESTING


class TestEnsureSite(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def setUp(self):
        # The script runs as Zope's system user; the site owner has the same rights here.
        login(self.layer["app"], SITE_OWNER_NAME)

    def test_creates_the_site_with_the_policy_once(self):
        app = self.layer["app"]
        self.assertTrue(ensure_site(app, "second", "Second"))
        site = app["second"]
        self.assertTrue(IPloneSiteRoot.providedBy(site))
        self.assertTrue(site.portal_setup.getLastVersionForProfile("surge.policy:default"))
        self.assertFalse(ensure_site(app, "second", "Second"))

    def test_refuses_an_id_that_is_not_a_plone_site(self):
        app = self.layer["app"]
        app.manage_addFolder("just-a-folder")
        with self.assertRaises(SystemExit):
            ensure_site(app, "just-a-folder", "Nope")


class TestPurgingSettings(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_site_purges_the_deployments_varnishes(self):
        from plone import api

        from surge.policy.scripts.create_site import PURGING, sync_purging

        proxies = ["http://10.0.0.11:6081", "http://10.0.0.12:6081"]
        self.assertTrue(sync_purging(self.layer["portal"], proxies))
        self.assertEqual(api.portal.get_registry_record(f"{PURGING}.cachingProxies"), tuple(proxies))
        self.assertTrue(api.portal.get_registry_record(f"{PURGING}.enabled"))
        self.assertTrue(api.portal.get_registry_record(f"{PURGING}.virtualHosting"))
        self.assertFalse(sync_purging(self.layer["portal"], proxies), "a second run changes nothing")
