"""Run a daemon's own checker on a configuration file (used by the recipes and bin/cluster check).

In a command, ``{file}`` is the file to check and ``{python}`` this Python,
run with this process's import path: the checkers of surge.buildout itself
(``{python} -m surge.buildout.ops.config_checkers ...``) are the code of the
build that runs them, never a script an earlier build made.
"""

import os
import shlex
import subprocess
import sys

OUTPUT_LINES = 30


class CheckFailed(Exception):
    """The checker refused the file; the message holds its output."""


def check_file(command, path, timeout=120):
    """Run COMMAND with {file} replaced by PATH; return a name for the checker, raise CheckFailed on refusal."""
    argv = [part.replace("{file}", path).replace("{python}", sys.executable) for part in shlex.split(command)]
    environment = None
    if "{python}" in command:
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(entry for entry in sys.path if entry))
    try:
        result = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, env=environment,
        )
    except FileNotFoundError:
        raise CheckFailed(f"{argv[0]} is not installed")
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{shlex.join(argv)} took more than {timeout} s")
    if result.returncode:
        output = "\n".join(result.stdout.strip().splitlines()[-OUTPUT_LINES:])
        raise CheckFailed(f"{shlex.join(argv)} exited {result.returncode}:\n{output}")
    # "{python} -m MODULE NAME ...": the checker's NAME; otherwise the program's.
    return argv[3] if argv[1:2] == ["-m"] and len(argv) > 3 else os.path.basename(argv[0])
