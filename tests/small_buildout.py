"""A small buildout in a temporary directory: the real base.cfg and packages.cfg
plus one part that renders a file with surge.buildout:template, checked by
Python's own compiler. Tests of bad input build it good first, then bad, and
find every file of the build byte for byte as it was.

The recipes come from a release of src/surge.buildout made once per test
run, as a production build installs them: no develop egg, so a build runs
no pip.
"""

import atexit
import functools
import hashlib
import os
import shutil
import tempfile

import pytest

from conftest import PYTHON, REPO, free_port, repo_path, run

GOOD_TEMPLATE = 'LISTEN = "{{ options.listen }}"\nGREETING = "{{ options.greeting }}"\n'
STRONG = "Vq7-3xRk_pL9mZ2tWc8bYh4N"


@functools.lru_cache(maxsize=None)
def recipes_release():
    """(folder, version) of this checkout's surge.buildout, released once into a temporary folder."""
    from surge.cluster import releases

    folder = tempfile.mkdtemp(prefix="surge-recipes-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder, releases.release(REPO, "surge.buildout", folder)


def config_text(directory, port, overrides):
    folder, version = recipes_release()
    sections = {
        "buildout": {
            "extends": f"{repo_path('buildout.d', 'base.cfg')}\n    {repo_path('packages.cfg')}",
            "parts +": "demo",
            # Every egg is on this machine but the recipes' release, which is in find-links: without this,
            # zc.buildout would first scan the public index's whole list for it (a minute and more). The
            # tests' own loopback index, on any port, stays reachable.
            "allow-hosts": "127.0.0.1*",
        },
        "releases": {"find-links": folder},
        "versions": {"surge.buildout": version},
        "secrets": {"names +": "zope-admin-password"},
        "settings": {"secrets-file": os.path.join(directory, "secrets.cfg")},
        "users": {"zope": "nobody"},
        "ports": {"demo": str(port)},
        "listen": {"demo": "${hosts:server}:${ports:demo}"},
        "demo": {
            "recipe": "surge.buildout:template",
            "input": os.path.join(directory, "demo.py.j2"),
            "output": "${buildout:directory}/etc/demo.py",
            # Python's own parser, which writes nothing beside the file.
            "check": f"{PYTHON} -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' {{file}}",
            "greeting": "hello",
            "listen": "${listen:demo}",
            "user": "${users:zope}",
        },
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key.replace(' +', ' +=') if key.endswith(' +') else key + ' ='} {value}"
                     for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


class Case:
    """A small buildout in a temporary directory."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.live = os.path.join(self.directory, "etc", "demo.py")
        self.port = free_port()
        self.template(GOOD_TEMPLATE)

    def template(self, text):
        with open(os.path.join(self.directory, "demo.py.j2"), "w") as stream:
            stream.write(text)

    def secrets(self, **values):
        path = os.path.join(self.directory, "secrets.cfg")
        with open(path, "w") as stream:
            stream.write("[secrets]\n" + "".join(f"{k.replace('_', '-')} = {v}\n" for k, v in values.items()))
        os.chmod(path, 0o600)

    def build(self, overrides=None, check=True):
        with open(os.path.join(self.directory, "buildout.cfg"), "w") as stream:
            stream.write(config_text(self.directory, self.port, overrides or {}))
        return run([repo_path("bin", "buildout"), "-N", "-c", "buildout.cfg"],
                   cwd=self.directory, timeout=300, check=check)

    def snapshot(self):
        with open(self.live) as stream:
            return stream.read(), os.stat(self.live).st_mtime_ns

    def hashes(self):
        """{path: sha256} of every file under etc/, parts/ and bin/."""
        found = {}
        for top in ("etc", "parts", "bin"):
            for folder, _, names in os.walk(os.path.join(self.directory, top)):
                # A refused render is kept beside the live file on purpose.
                for name in (name for name in names if not name.endswith(".rejected")):
                    path = os.path.join(folder, name)
                    if os.path.isfile(path):
                        with open(path, "rb") as stream:
                            found[os.path.relpath(path, self.directory)] = hashlib.sha256(stream.read()).hexdigest()
        return found


@pytest.fixture
def case(tmp_path):
    built = Case(tmp_path)
    built.build()
    assert os.path.exists(built.live)
    return built


def fails_and_keeps_live_file(case, overrides, *messages):
    """Build with OVERRIDES: it fails, says every one of MESSAGES, and changes no file of the build."""
    before, hashes = case.snapshot(), case.hashes()
    result = case.build(overrides, check=False)
    assert result.returncode != 0, "the bad configuration was accepted"
    for message in messages:
        assert message in result.stdout
    assert case.snapshot() == before, "the live file changed although the build failed"
    assert case.hashes() == hashes, "a file of the build changed although the build failed"
    return result.stdout


