"""The load test's settings: Locust command-line options, also read from
etc/loadtest.conf (rendered from [loadtest-settings], docs/load-testing.rst).

Locust forwards them to its workers in distributed mode, so every worker
runs the same mix.
"""

import argparse
import random

from surge.cluster import topology

# (option, type, default, help). Think times are "MIN-MAX" seconds. The
# defaults are [loadtest-settings]'s (tests/test_loadtest.py keeps them equal).
SETTINGS = (
    ("sites", str, "", "the site's base URLs; each visitor picks one, as DNS round robin would "
     "(empty: the one-machine cluster's web servers)"),
    ("anonymous-weight", int, 90, "share of anonymous visitors among the visitors that are not authors"),
    ("member-weight", int, 10, "share of logged-in members among the visitors that are not authors"),
    ("fresh-search-share", int, 0, "percent of the anonymous visitors who search with queries nobody sent before "
     "(uncacheable)"),
    ("authors", int, 2, "authors editing throughout, whatever the load (a fixed number)"),
    ("anonymous-think", str, "2-8", "seconds an anonymous visitor reads a page (MIN-MAX)"),
    ("member-think", str, "3-10", "seconds a member reads a page (MIN-MAX)"),
    ("author-think", str, "5-15", "seconds an author takes between two edits (MIN-MAX)"),
    ("lull-users", int, 20, "visitors during the lulls"),
    ("spike-users", int, 1000, "visitors at the top of the spike"),
    ("lull-seconds", int, 60, "length of the lull before the spike"),
    ("ramp-seconds", int, 10, "seconds from the lull to the top of the spike"),
    ("spike-seconds", int, 120, "how long the spike holds"),
    ("after-seconds", int, 30, "length of the lull after the spike"),
    ("sections", int, 5, "folders of pages the load test makes and reads"),
    ("pages", int, 5, "pages per section"),
    ("news", int, 20, "news items"),
    ("members", int, 120, "member accounts (the authors have their own)"),
    ("account-password", str, "", "password of the load test's accounts (bin/loadtest sets it)"),
    ("ca-file", str, "", "the CA that signed the site's certificate, when it is not a public one "
     "(with empty sites: the cluster's)"),
    ("admin-password-file", str, "", "secrets file with zope-admin-password, to make the content and accounts "
     "(with empty sites: the cluster's)"),
    ("samples", str, "", "write every request (time, class, name, ms, failed) to this CSV file"),
)


def read_config(path):
    """The settings of a configuration file (etc/loadtest.conf) over the defaults, as Locust names them."""
    values = {name.replace("-", "_"): default for name, _, default, _ in SETTINGS}
    kinds = {name.replace("-", "_"): kind for name, kind, _, _ in SETTINGS}
    with open(path) as stream:
        for line in stream:
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = (part.strip() for part in line.split("=", 1))
                key = key.replace("-", "_")
                if key in kinds:
                    values[key] = kinds[key](value)
    return argparse.Namespace(**values)


def cluster_defaults(options, repository):
    """{option: value} for the one-machine cluster (surge.cluster's manifest) where OPTIONS leaves sites empty."""
    if options.sites.strip():
        return {}
    root = topology.default_root(repository)
    found = {"sites": " ".join(topology.site_urls()), "ca_file": topology.ca_file(root),
             "admin_password_file": topology.secrets_file(root)}
    return {key: value for key, value in found.items() if not getattr(options, key).strip()}


def add_arguments(parser):
    group = parser.add_argument_group("Surge", "The site's visitors (docs/load-testing.rst)")
    for name, kind, default, text in SETTINGS:
        group.add_argument(f"--{name}", type=kind, default=default, help=f"{text} (default: {default})")


def think_range(value, name):
    """(min, max) seconds of a "MIN-MAX" setting; ValueError naming the setting."""
    try:
        low, high = (float(part) for part in value.split("-"))
    except ValueError:
        raise ValueError(f"--{name} = {value!r} is not MIN-MAX seconds (e.g. 2-8)") from None
    if not 0 <= low <= high:
        raise ValueError(f"--{name} = {value!r}: MIN must be at least 0 and at most MAX")
    return low, high


def think_time(value, name):
    """A Locust wait_time function for a "MIN-MAX" setting."""
    low, high = think_range(value, name)
    return lambda user: random.uniform(low, high)
