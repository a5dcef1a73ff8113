"""Internal releases of our packages for the cluster's production builds.

Production installs our packages from a release folder (find-links), pinned
in versions.cfg, never from src/. jarn.mkrelease uploads over scp only and
cannot write to a local folder, so the cluster builds the wheel with pip.
The version is the package's own with a development number derived from its
files, so a changed package is a new release (buildout caches eggs by version)
and an unchanged one is not rebuilt, and the local label +surge, which the
public index refuses, so no upload there can match the pin.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

from surge.cluster.checkout import tracked_files

LOCAL_LABEL = "surge"
VERSION = re.compile(r'^version\s*=\s*"([^"]+)"', re.M)


def content_version(repository, package):
    """'1.0.0.devNNNN+surge' for src/PACKAGE: its base version, a number from its files, our label."""
    prefix = f"src/{package}/"
    digest = hashlib.sha256()
    for name in tracked_files(repository):
        if name.startswith(prefix):
            digest.update(name.encode() + b"\0")
            with open(os.path.join(repository, name), "rb") as stream:
                digest.update(stream.read())
    with open(os.path.join(repository, prefix, "pyproject.toml")) as stream:
        base = VERSION.search(stream.read()).group(1).split("+")[0].split(".dev")[0]
    return f"{base}.dev{int(digest.hexdigest()[:10], 16)}+{LOCAL_LABEL}"


def release(repository, package, folder, version=None):
    """Build src/PACKAGE as a wheel into FOLDER unless that version is there; return the version.

    VERSION defaults to the content version; the host provisioning test asks for the version
    versions.cfg pins, so that the production files build unchanged."""
    version = version or content_version(repository, package)
    wheel_prefix = f"{package.replace('.', '_')}-{version}-"
    if any(name.startswith(wheel_prefix) for name in os.listdir(folder)):
        return version
    with tempfile.TemporaryDirectory() as work:
        source = os.path.join(work, package)
        prefix = f"src/{package}/"
        for name in tracked_files(repository):
            if name.startswith(prefix):
                target = os.path.join(source, name[len(prefix):])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.join(repository, name), target)
        pyproject = os.path.join(source, "pyproject.toml")
        with open(pyproject) as stream:
            text = VERSION.sub(f'version = "{version}"', stream.read(), count=1)
        with open(pyproject, "w") as stream:
            stream.write(text)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--wheel-dir", folder, source],
            check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
    return version
