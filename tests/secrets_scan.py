"""Which files hold a secret of the cluster, and whether another local user can read them."""

import os
import stat

from surge.buildout import secretsfile


def cluster_secrets(root):
    """{name: value} of every secret of the cluster's secrets file."""
    values = secretsfile.read(os.path.join(root, "secrets.cfg"))
    assert len(values) >= 5, values
    return values


def readable_by_others(path):
    """True when a user who is neither the owner nor in the group can read PATH (every parent searchable)."""
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(parent)
    return True


def files_holding(directory, values, leave_out=()):
    """{path: [secret names]} of the regular files under DIRECTORY that contain a value of VALUES, but for those
    in DIRECTORY's folders LEAVE_OUT."""
    found = {}
    for top, folders, names in os.walk(directory):
        if top == directory:
            folders[:] = [name for name in folders if name not in leave_out]
        for name in names:
            path = os.path.join(top, name)
            if not os.path.isfile(path) or os.path.islink(path) or os.path.getsize(path) > 20_000_000:
                continue
            with open(path, "rb") as stream:
                content = stream.read()
            held = [secret for secret, value in values.items() if value.encode() in content]
            if held:
                found[path] = held
    return found
