"""Run a daemon's own checker on a configuration file (used by the recipes and bin/cluster check)."""

import shlex
import subprocess

OUTPUT_LINES = 30


class CheckFailed(Exception):
    """The checker refused the file; the message holds its output."""


def check_file(command, path, timeout=120):
    """Run COMMAND with {file} replaced by PATH; return its argv, raise CheckFailed on refusal."""
    argv = [part.replace("{file}", path) for part in shlex.split(command)]
    try:
        result = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise CheckFailed(f"{argv[0]} is not installed")
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{shlex.join(argv)} took more than {timeout} s")
    if result.returncode:
        output = "\n".join(result.stdout.strip().splitlines()[-OUTPUT_LINES:])
        raise CheckFailed(f"{shlex.join(argv)} exited {result.returncode}:\n{output}")
    return argv
