"""Copy a repository as a clean clone would have it (what a server checks out)."""

import filecmp
import os
import shutil
import subprocess


def tracked_files(repository):
    """Tracked files, plus new files git does not ignore, that exist."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repository, stdout=subprocess.PIPE, check=True,
    ).stdout.decode()
    return sorted(name for name in listing.split("\0") if name and os.path.isfile(os.path.join(repository, name)))


def sync(repository, destination):
    """Make DESTINATION hold the repository's files; copy only what changed. Returns the count copied."""
    copied = 0
    for name in tracked_files(repository):
        source, target = os.path.join(repository, name), os.path.join(destination, name)
        if os.path.exists(target) and filecmp.cmp(source, target, shallow=False):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)
        copied += 1
    return copied
