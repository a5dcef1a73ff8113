"""Each instance's pool, one answer for HAProxy and the app servers, and its CPU priority."""

import os
import subprocess
import sys

from small_buildout import fails_and_keeps_live_file

PYTHONPATH = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def pools_overrides(**settings):
    """A small build of two app servers (a, b) that is b, rendering b's levels into etc/demo.py."""
    values = {"count": "3", "author-instances": "1", "member-instances": "1",
              "author-nice": "1", "member-nice": "3", "shared-nice": "10", **settings}
    return {
        "topology": {"app-servers": "a b"},
        "hosts": {"a": "127.0.0.1", "b": "127.0.0.2", "server": "127.0.0.2"},
        "ports": {"instance-base": "8080"},
        "instance-settings": values,
        "instance-priorities": {"recipe": "surge.buildout:instance-priorities", "settings": "instance-settings"},
        "demo": {"greeting": "${instance-priorities:levels}"},
    }


def test_each_instance_of_this_server_gets_its_pools_nice_level(case):
    case.build(pools_overrides())
    # Interleaved a-8080, b-8080, a-8081, b-8081, a-8082, b-8082: the members' is the next to last
    # (a-8082), the authors' the last (b-8082), the rest shared.
    assert 'GREETING = "8080=10 8081=10 8082=1"' in open(case.live).read()


def test_ring_fencing_every_instance_fails_naming_the_settings(case):
    fails_and_keeps_live_file(case, pools_overrides(**{"author-instances": "5"}),
                              "buildout.cfg: [instance-settings] author-instances (5) plus",
                              "ring-fence 6 of the 6 instances; the shared pool needs at least one")


def test_a_nice_level_out_of_range_fails(case):
    fails_and_keeps_live_file(case, pools_overrides(**{"shared-nice": "20"}),
                              "[instance-settings] shared-nice = '20' is out of range")


def test_pool_priority_runs_the_command_at_the_ports_level():
    command = [sys.executable, "-c", "import sys; from surge.buildout.ops.priority import main; main(sys.argv[1:])",
               "8081", "8080=10", "8081=7", "--", sys.executable, "-c",
               "import os, threading; t = threading.Thread(target=lambda: print(os.getpriority(os.PRIO_PROCESS, "
               "0))); t.start(); t.join()"]
    # A thread the command starts runs at the level too (Zope's workers).
    assert subprocess.run(command, capture_output=True, text=True, env=PYTHONPATH, check=True).stdout.strip() == "7"


def test_pool_priority_refuses_a_port_without_a_level():
    result = subprocess.run([sys.executable, "-c", "import sys; from surge.buildout.ops.priority import main; "
                             "main(sys.argv[1:])", "8082", "8080=10", "--", "true"],
                            capture_output=True, text=True, env=PYTHONPATH)
    assert result.returncode != 0 and "no nice level for port 8082" in result.stderr
