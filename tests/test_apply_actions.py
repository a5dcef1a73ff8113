"""Every fragment's ``[apply] actions`` line names a known action with its arguments; a line of another shape is
refused, named.
"""

import glob
import re

import pytest

from conftest import repo_path
from surge.buildout.ops.apply import ACTIONS, parse_actions


def fragment_lines():
    """Every line the fragments add to [apply] actions, with its file."""
    found = []
    for path in sorted(glob.glob(repo_path("buildout.d", "*.cfg"))):
        text = open(path).read()
        for block in re.findall(r"^\[apply\]\nactions \+=\n((?:    .*\n)+)", text, re.M):
            found.extend((path, line.strip()) for line in block.splitlines())
    return found


def test_every_fragment_line_names_a_known_action_with_its_arguments():
    lines = fragment_lines()
    assert len(lines) >= 12
    for path, line in lines:
        [(_, action, arguments)] = parse_actions(line)
        assert action in ACTIONS and len(arguments) == ACTIONS[action], (path, line)


@pytest.mark.parametrize("line", [
    "/srv/surge/etc/nginx.conf",
    "/srv/surge/etc/nginx.conf reboot nginx",
    "/srv/surge/etc/nginx.conf signal nginx",
    "/srv/surge/etc/supervisord.conf supervisor extra",
])
def test_a_line_of_another_shape_is_refused_naming_it(line):
    with pytest.raises(ValueError) as refused:
        parse_actions(line)
    assert repr(line) in str(refused.value) and "signal 2" in str(refused.value)
