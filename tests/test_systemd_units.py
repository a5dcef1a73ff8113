"""The units' checker: ``systemd-analyze verify`` passes a valid unit and one whose command this build makes
later, and refuses a missing command elsewhere, a relative one and a setting systemd would ignore.
"""

import pytest

from surge.buildout.ops import config_checkers

UNIT = """[Unit]
Description=a unit of the checker's test

[Service]
Type=simple
ExecStart={command} -n
KillMode={kill_mode}

[Install]
WantedBy=multi-user.target
"""


def check(tmp_path, command="/usr/bin/true", kill_mode="mixed", build_bin="/srv/surge/bin"):
    path = tmp_path / ".surge.service.staged"
    path.write_text(UNIT.format(command=command, kill_mode=kill_mode))
    return config_checkers.systemd_unit(["surge.service", str(path), build_bin])


def test_a_valid_unit_passes(tmp_path):
    assert check(tmp_path) == 0


def test_a_command_this_build_makes_later_passes(tmp_path):
    assert check(tmp_path, command="/srv/surge/bin/supervisord") == 0


@pytest.mark.parametrize("command, kill_mode, says", [
    ("/srv/elsewhere/bin/supervisord", "mixed", "is not executable"),
    ("/srv/surge/bin-other/supervisord", "mixed", "is not executable"),
    ("relative/supervisord", "mixed", "Neither a valid executable name nor an absolute path"),
    ("/usr/bin/true", "sometimes", "Failed to parse kill mode"),
])
def test_what_systemd_refuses_or_ignores_fails(tmp_path, capsys, command, kill_mode, says):
    assert check(tmp_path, command=command, kill_mode=kill_mode) == 1
    error = capsys.readouterr().err
    assert says in error, error
