"""Test layers: a Plone site with surge.policy installed."""

from plone.app.testing import PLONE_FIXTURE, FunctionalTesting, IntegrationTesting, PloneSandboxLayer, applyProfile


class SurgePolicyLayer(PloneSandboxLayer):
    defaultBases = (PLONE_FIXTURE,)

    def setUpZope(self, app, configurationContext):
        import plone.app.caching
        import plone.classicui
        import plone.distribution

        import surge.policy

        # The "classic" distribution, which bin/create-site builds the site from.
        self.loadZCML(package=plone.distribution)
        self.loadZCML(package=plone.classicui)
        self.loadZCML(package=plone.app.caching)
        self.loadZCML(package=surge.policy)

    def setUpPloneSite(self, portal):
        applyProfile(portal, "surge.policy:default")


SURGE_POLICY_FIXTURE = SurgePolicyLayer()
SURGE_POLICY_INTEGRATION_TESTING = IntegrationTesting(
    bases=(SURGE_POLICY_FIXTURE,), name="SurgePolicy:Integration"
)
SURGE_POLICY_FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(SURGE_POLICY_FIXTURE,), name="SurgePolicy:Functional"
)
