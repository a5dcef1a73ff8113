from zope.publisher.interfaces.browser import IDefaultBrowserLayer


class ISurgePolicyLayer(IDefaultBrowserLayer):
    """Views and resources of the policy apply only where it is installed."""
