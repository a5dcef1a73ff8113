"""A production build installs our released packages from the release folder,
never a same-named distribution from the public index: their pins carry a
local version label, which the public index refuses, and a pin without one
fails the build."""

import contextlib
import functools
import glob
import http.server
import os
import shutil
import subprocess
import sys
import threading
import uuid

import pytest
from small_buildout import STRONG, fails_and_keeps_live_file, recipes_release

PROBE = "surge-release-probe"


def wheel(directory, version, who):
    """A wheel of PROBE at VERSION whose module says WHO, built into DIRECTORY."""
    source = os.path.join(directory, f"source-{who}")
    os.makedirs(os.path.join(source, "surge_release_probe"))
    with open(os.path.join(source, "pyproject.toml"), "w") as stream:
        stream.write('[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                     f'[project]\nname = "{PROBE}"\nversion = "{version}"\n')
    with open(os.path.join(source, "surge_release_probe", "__init__.py"), "w") as stream:
        stream.write(f"WHO = {who!r}\n")
    target = os.path.join(directory, who)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", target, source], check=True)
    return target


@contextlib.contextmanager
def public_index(folder):
    """FOLDER served on loopback as a simple package index (the public index a squatter uploads to)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def releases(case, tmp_path):
    """Our release of PROBE in a release folder, a squatter's of the same version on a loopback index."""
    version = f"1.0.{uuid.uuid4().int % 10**8}"  # new each run: nothing cached can answer
    ours = wheel(str(tmp_path), f"{version}+surge", "ours")
    squatter = os.path.join(str(tmp_path), "index", PROBE)
    os.makedirs(squatter)
    for name in os.listdir(wheel(str(tmp_path), version, "squatter")):
        shutil.copy(os.path.join(str(tmp_path), "squatter", name), squatter)
    case.secrets(zope_admin_password=STRONG)
    with public_index(os.path.join(str(tmp_path), "index")) as index:
        yield version, ours, index
    # The probe's eggs in the shared eggs directory are this test's alone.
    for path in glob.glob(os.path.join(os.path.expanduser("~/.buildout/eggs/*/"), "surge_release_probe-*")):
        shutil.rmtree(path, ignore_errors=True)


def overrides(case, version, pin, folder, index):
    return {
        "settings": {"mode": "production"},
        "buildout": {"index": index, "download-cache": os.path.join(case.directory, "downloads"),
                     "parts +": "demo probe"},
        "releases": {"find-links": f"{folder} {recipes_release()[0]}", "packages": PROBE},
        "versions": {PROBE: pin, "surge.buildout": recipes_release()[1]},
        "probe": {"recipe": "zc.recipe.egg", "eggs": PROBE, "interpreter": "probe"},
    }


def installed_probe(case, settings):
    os.makedirs(os.path.join(case.directory, "downloads"), exist_ok=True)
    case.build(settings)
    return subprocess.run([os.path.join(case.directory, "bin", "probe"), "-c",
                           "import surge_release_probe; print(surge_release_probe.WHO)"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def test_the_release_folders_labelled_version_wins_over_the_public_index(case, releases):
    version, ours, index = releases
    assert installed_probe(case, overrides(case, version, f"{version}+surge", ours, index)) == "ours"


def test_without_the_label_the_public_index_wins(case, releases, tmp_path):
    # Why the label: our unlabelled release of the same version is in find-links, yet zc.buildout takes the
    # index's. Only a development build, which does not check the pins, gets this far.
    version, _, index = releases
    unlabelled = wheel(str(tmp_path), version, "unlabelled")
    settings = overrides(case, version, version, unlabelled, index)
    settings["settings"]["mode"] = "development"
    assert installed_probe(case, settings) == "squatter"


def test_a_pin_without_the_label_is_refused_in_production(case, releases):
    version, ours, index = releases
    fails_and_keeps_live_file(case, overrides(case, version, version, ours, index),
                              f"[versions] {PROBE} = '{version}' has no local version label")
