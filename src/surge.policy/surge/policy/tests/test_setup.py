"""What installing surge.policy:default does to a site."""

import json
import unittest

from AccessControl import Unauthorized
from plone import api
from plone.app.testing import TEST_USER_ID, setRoles

from surge.policy.testing import SURGE_POLICY_INTEGRATION_TESTING


class TestCaching(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_caching_is_enabled(self):
        self.assertTrue(api.portal.get_registry_record("plone.caching.interfaces.ICacheSettings.enabled"))

    def test_pages_are_cached_in_the_proxy_for_anonymous_users_only(self):
        mapping = api.portal.get_registry_record("plone.caching.interfaces.ICacheSettings.operationMapping")
        for rule in ("plone.content.itemView", "plone.content.folderView"):
            self.assertEqual(mapping[rule], "plone.app.caching.moderateCaching")
            prefix = f"plone.app.caching.moderateCaching.{rule}"
            self.assertEqual(api.portal.get_registry_record(prefix + ".smaxage"), 300)
            self.assertTrue(api.portal.get_registry_record(prefix + ".anonOnly"))

    def test_caching_proxy_preset_keeps_resources_strongly_cached(self):
        mapping = api.portal.get_registry_record("plone.caching.interfaces.ICacheSettings.operationMapping")
        self.assertEqual(mapping["plone.resource"], "plone.app.caching.strongCaching")

    def test_edited_content_is_purged(self):
        purged = api.portal.get_registry_record(
            "plone.app.caching.interfaces.IPloneCacheSettings.purgedContentTypes"
        )
        for portal_type in ("Document", "Event", "Folder", "Announcement"):
            self.assertIn(portal_type, purged)


class TestTheme(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_surge_theme_is_active(self):
        from plone.app.theming.utils import getCurrentTheme

        self.assertEqual(getCurrentTheme(), "surge")
        self.assertTrue(api.portal.get_registry_record("plone.app.theming.interfaces.IThemeSettings.enabled"))


class TestAnnouncement(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def setUp(self):
        self.portal = self.layer["portal"]

    def test_contributor_can_add_an_announcement(self):
        setRoles(self.portal, TEST_USER_ID, ["Contributor"])
        item = api.content.create(
            container=self.portal, type="Announcement", title="Draw tonight", urgent=True
        )
        self.assertEqual(item.portal_type, "Announcement")
        self.assertEqual(item.getId(), "draw-tonight")
        self.assertTrue(item.urgent)

    def test_member_cannot_add_an_announcement(self):
        setRoles(self.portal, TEST_USER_ID, ["Member"])
        with self.assertRaises(Unauthorized):
            api.content.create(container=self.portal, type="Announcement", title="Nope")


class TestEditorTemplates(unittest.TestCase):
    layer = SURGE_POLICY_INTEGRATION_TESTING

    def test_template_plugin_is_enabled(self):
        self.assertIn("template", api.portal.get_registry_record("plone.plugins"))

    def test_every_template_is_listed_and_exists(self):
        templates = json.loads(api.portal.get_registry_record("plone.templates"))
        self.assertGreaterEqual(len(templates), 2)
        portal = self.layer["portal"]
        for template in templates:
            self.assertTrue(template["title"] and template["description"])
            resource = portal.restrictedTraverse(template["url"])
            with open(resource.path, encoding="utf-8") as html:
                self.assertIn("<", html.read())
