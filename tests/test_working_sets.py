"""zc.recipe.egg's working sets kept between builds (surge.buildout.working_sets), through zc.recipe.egg's own
cached resolution and zc.buildout's installer, from wheels made here: a later build with the same pins and eggs
takes the kept paths without resolving, a changed pin resolves again, a resolution that asks an index is not kept,
and a build whose record is gone resolves as before."""

import os

import zc.buildout.easy_install
from test_parallel_eggs import wheel
from zc.recipe.egg.egg import Eggs

from surge.buildout import working_sets


class Build(dict):
    """What zc.recipe.egg and working_sets.remember use of a buildout: its [buildout] and attributes."""


def resolve(settings, newest=False):
    """One build's zc.recipe.egg resolution of ws-top, through working_sets: (the distributions' 'name
    version', how many times zc.buildout's installer ran)."""
    build = Build(buildout=settings)
    working_sets.remember(build)
    # zc.recipe.egg's resolution, without the options of a part.
    recipe = Eggs.__new__(Eggs)
    recipe.buildout = build
    runs, install = [], zc.buildout.easy_install.install

    def counted(*args, **kwargs):
        runs.append(args)
        return install(*args, **kwargs)

    zc.buildout.easy_install.install = counted
    try:
        working_set = recipe._working_set(["ws-top"], settings["eggs-directory"],
                                        settings["develop-eggs-directory"], newest=newest,
                                        links=[settings["find-links"]], index=settings["index"])
    finally:
        zc.buildout.easy_install.install = install
    return sorted(f"{dist.project_name} {dist.version}" for dist in working_set), len(runs)


def test_a_resolution_is_kept_while_pins_and_eggs_stay_the_same(tmp_path):
    # Names of this test's own: run after tests/test_parallel_eggs.py in one process, zc.buildout's installer
    # found that test's pe-top (which requires pe-broken) for a pe-top of this one.
    wheels, eggs, develop, index = (tmp_path / name for name in ("wheels", "eggs", "develop-eggs", "index"))
    for folder in (wheels, eggs, develop, index):
        folder.mkdir()
    wheel(wheels, "ws-top", "1.0", requires=["ws-bottom"])
    for version in ("3.0", "4.0"):
        wheel(wheels, "ws-bottom", version)
    settings = {"directory": str(tmp_path), "eggs-directory": str(eggs), "develop-eggs-directory": str(develop),
                "find-links": str(wheels), "index": index.as_uri()}
    record = tmp_path / "var" / "working-sets.json"
    old_pins = zc.buildout.easy_install.default_versions({"ws-top": "1.0", "ws-bottom": "3.0"})
    try:
        assert resolve(settings) == (["ws-bottom 3.0", "ws-top 1.0"], 1)
        assert oct(os.stat(record).st_mode & 0o777) == "0o600"
        # The next build: the same, from the record.
        assert resolve(settings) == (["ws-bottom 3.0", "ws-top 1.0"], 0)
        # A pin changed: resolved again, and kept.
        zc.buildout.easy_install.default_versions({"ws-top": "1.0", "ws-bottom": "4.0"})
        assert resolve(settings) == (["ws-bottom 4.0", "ws-top 1.0"], 1)
        assert resolve(settings) == (["ws-bottom 4.0", "ws-top 1.0"], 0)
        # An egg that appeared in the eggs directory (another build's) may change what is picked.
        (eggs / "ws_other-1.0-py3.11.egg").mkdir()
        assert resolve(settings) == (["ws-bottom 4.0", "ws-top 1.0"], 1)
        # Newest: zc.buildout asks the index, so nothing is taken from the record.
        assert resolve(settings, newest=True) == (["ws-bottom 4.0", "ws-top 1.0"], 1)
        # The record is a cache: without it, the build resolves as before.
        record.unlink()
        assert resolve(settings) == (["ws-bottom 4.0", "ws-top 1.0"], 1)
    finally:
        zc.buildout.easy_install.default_versions(old_pins)
