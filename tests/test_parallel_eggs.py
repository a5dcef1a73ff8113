"""The build's pinned eggs installed several at a time (surge.buildout.recipes.parallel_eggs), by zc.buildout's own
installer and pip, from wheels made here: what the requirements reach through their pins is installed, extras and
markers as zc.buildout reads them; a pinned distribution nobody requires, an unpinned one and one that cannot be
installed are left to zc.buildout."""

import base64
import hashlib
import os
import zipfile

import zc.buildout.easy_install
from zc.buildout.easy_install import pkg_resources  # zc.buildout's own copy

from surge.buildout.recipes import parallel_eggs


def wheel(folder, name, version, requires=(), extras=None):
    """A pure-Python wheel of NAME VERSION requiring REQUIRES, with {extra: [requirement]} EXTRAS."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    for extra, needed in (extras or {}).items():
        metadata += f"Provides-Extra: {extra}\n"
        metadata += "".join(f'Requires-Dist: {requirement}; extra == "{extra}"\n' for requirement in needed)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(os.path.join(folder, f"{module}-{version}-py3-none-any.whl"), "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def installed(eggs):
    """'name version' of each egg in the eggs directory."""
    return sorted(" ".join(entry.split("-")[:2]) for entry in os.listdir(eggs) if entry.endswith(".egg"))


def test_what_the_requirements_reach_through_their_pins_is_installed_and_nothing_else(tmp_path, capsys):
    wheels, eggs, develop, index = (tmp_path / name for name in ("wheels", "eggs", "develop-eggs", "index"))
    for folder in (wheels, eggs, develop, index):
        folder.mkdir()
    wheel(wheels, "pe-top", "1.0", requires=["pe-middle[fast]", "pe-unpinned", "pe-broken",
                                             'pe-never; python_version < "3"'])
    wheel(wheels, "pe-middle", "2.0", requires=["pe-broken"], extras={"fast": ["pe-bottom"], "slow": ["pe-slow"]})
    for name in ("pe-bottom", "pe-slow", "pe-never", "pe-unpinned", "pe-spare"):
        wheel(wheels, name, "3.0")
    pins = {"pe-top": "1.0", "pe-middle": "2.0", "pe-bottom": "3.0", "pe-slow": "3.0", "pe-never": "3.0",
            # pe-spare is pinned but nothing requires it; pe-broken's pin is no file of the index.
            "pe-spare": "3.0", "pe-broken": "9.9"}
    old_pins = zc.buildout.easy_install.default_versions(pins)
    settings = {"eggs-directory": str(eggs), "develop-eggs-directory": str(develop), "find-links": str(wheels),
                "index": index.as_uri(), "allow-hosts": "*"}
    try:
        parallel_eggs.Installation(settings, 3).run([pkg_resources.Requirement.parse("pe-top")])
        assert installed(eggs) == ["pe_bottom 3.0", "pe_middle 2.0", "pe_top 1.0"]
        said = capsys.readouterr().out
        assert "installed 3 distributions, 3 at a time" in said
        assert "left to zc.buildout, which tries again and says why: pe-broken\n" in said
        # Tried once, though two distributions require it.
        assert said.count("Couldn't find a distribution for 'pe-broken==9.9'") == 1
        assert "pe-unpinned" not in said

        # Everything else is there: only pe-broken is tried again.
        parallel_eggs.Installation(settings, 3).run([pkg_resources.Requirement.parse("pe-top")])
        said = capsys.readouterr().out
        assert "distributions" not in said and "left to zc.buildout, which tries again and says why: pe-broken" in said
        # A new extra asked of an installed distribution reaches its requirements.
        parallel_eggs.Installation(settings, 3).run([pkg_resources.Requirement.parse("pe-middle[slow]")])
        assert installed(eggs) == ["pe_bottom 3.0", "pe_middle 2.0", "pe_slow 3.0", "pe_top 1.0"]
    finally:
        zc.buildout.easy_install.default_versions(old_pins)
