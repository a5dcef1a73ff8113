"""bin/cluster links the development build's eggs into the cluster's eggs
directory where zc.buildout looks for them (its versioned subdirectory)."""

import os

import pytest

from surge.cluster.building import seed_eggs


@pytest.mark.parametrize("versioned", [("v5",), ("v5", "cp311")])
def test_eggs_are_linked_into_the_same_versioned_folder(tmp_path, versioned):
    development = tmp_path.joinpath("home", "eggs", *versioned)
    development.joinpath("Zope-6.3-py3.11.egg", "Zope").mkdir(parents=True)
    development.joinpath("Zope-6.3-py3.11.egg", "Zope", "__init__.py").write_text("")
    root = tmp_path / "cluster"
    assert seed_eggs(str(development), str(root)) == 1
    linked = root.joinpath("eggs", *versioned, "Zope-6.3-py3.11.egg", "Zope", "__init__.py")
    assert linked.exists() and os.stat(linked).st_nlink == 2
