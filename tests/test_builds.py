"""In a clean copy of the repository: the development build with strict pins installs every tool, generates
secrets once, ``bin/create-site`` creates the site once (also beside the running instance) and the front page
is served with the theme.
"""

import base64
import configparser
import os
import stat
import urllib.request

import pytest

from conftest import STRICT, run, wait_for_http


def secrets_of(directory):
    parser = configparser.RawConfigParser()
    parser.read(os.path.join(directory, "secrets.cfg"))
    return dict(parser.items("secrets"))


@pytest.mark.slow
def test_dev_build_generates_secrets_once_and_prints_them(dev_build):
    directory, port, output = dev_build
    secrets = secrets_of(directory)
    assert f"zope-admin-password = {secrets['zope-admin-password']}" in output
    assert stat.S_IMODE(os.stat(os.path.join(directory, "secrets.cfg")).st_mode) == 0o600
    again = run(["bin/buildout", "-N", STRICT, f"ports:instance={port}"], cwd=directory).stdout
    assert "generated development secrets" not in again
    assert secrets_of(directory) == secrets


@pytest.mark.slow
def test_dev_build_installs_the_tools(dev_build):
    directory = dev_build[0]
    for script in ("instance", "create-site", "test", "coverage", "versioncheck", "mkrelease",
                   "mrbob", "bpython", "sphinx-build", "docs", "pytest", "develop"):
        assert os.access(os.path.join(directory, "bin", script), os.X_OK), f"bin/{script} is missing"
    assert os.path.isdir(os.path.join(directory, "parts", "omelette", "plone", "app", "caching"))


@pytest.mark.slow
def test_dev_site_is_created_once_and_served_with_the_theme(dev_build, servers):
    directory, port, _ = dev_build
    created = run(["bin/create-site"], cwd=directory, timeout=600).stdout
    assert "created /Plone with surge.policy:default" in created

    instance = servers.start(["bin/instance", "fg"], cwd=directory,
                             log_path=os.path.join(directory, "instance.log"))
    url = f"http://localhost:{port}/Plone"
    wait_for_http(url, deadline_seconds=180, process=instance.process)
    with urllib.request.urlopen(url) as response:
        page = response.read().decode()
        cache_control = response.headers["Cache-Control"]
    assert 'id="surge-brand"' in page and "++theme++surge/surge.css" in page
    assert "s-maxage=300" in cache_control

    # The embedded database takes a second process while the instance runs.
    again = run(["bin/create-site"], cwd=directory, timeout=600).stdout
    assert "/Plone exists; nothing to do" in again

    password = secrets_of(directory)["zope-admin-password"]
    request = urllib.request.Request(f"http://localhost:{port}/manage_main")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{password}".encode()).decode())
    with urllib.request.urlopen(request) as response:
        assert response.status == 200 and "Plone" in response.read().decode()
