"""Building the cluster's servers: each in its own directory under the root, from a copy of
this repository and its unchanged production top-level file plus the loopback overlay
(cluster.cfg); and checking every rendered file again with its daemon's checker.
"""

import os
import re
import shutil
import subprocess
import sys
import time

from surge.buildout.progress import sayer
from surge.cluster import checkout, overlay, releases, tls
from surge.cluster.checks import check_server
from surge.cluster.topology import SERVERS

say = sayer("cluster")


def run(command, cwd):
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode:
        print(result.stdout, flush=True)
        raise SystemExit(f"cluster: {' '.join(command)} failed in {cwd} (exit {result.returncode})")
    return result.stdout


def make_traversable(root):
    """Daemons drop to their own users (www-data, varnish): they must reach their files."""
    os.chmod(root, 0o755)
    parent = os.path.dirname(root)
    while parent not in ("/", ""):
        if os.stat(parent).st_mode & 0o001 == 0:
            raise SystemExit(
                f"cluster: {parent} is closed to other users, so nginx and Varnish (www-data, varnish) "
                f"could not reach {root}; run chmod o+x {parent}, or choose --root elsewhere"
            )
        parent = os.path.dirname(parent)


RELEASED = ("surge.buildout", "surge.policy")


def write_server_files(repository, root, server, versions):
    """The server's checkout and overlay: (its directory, files updated).

    Every server's are written before any is built: each production build
    checks what it says about the other servers against their own files.
    """
    directory = os.path.join(root, server.name)
    os.makedirs(directory, exist_ok=True)
    copied = checkout.sync(repository, directory)
    certificate = key = None
    if server.web:
        certificate, key = tls.ensure_server_certificate(os.path.join(root, "tls"), server.name, server.address)
    overlay.write_overlay(directory, overlay.overlay_text(server, root, versions, certificate, key))
    return directory, copied


def prepare_server(repository, root, server, python, versions):
    """The server's checkout, overlay, certificate, secrets and bin/buildout; its directory."""
    directory, copied = write_server_files(repository, root, server, versions)
    config = os.path.join(directory, overlay.OVERLAY)
    new = overlay.ensure_secrets(os.path.join(root, "secrets.cfg"), overlay.secret_names(config))
    say(f"{server.name}: {copied} files updated, {len(new)} new secrets; building {server.config} + {overlay.OVERLAY}")
    run([python, "bootstrap.py", "-c", overlay.OVERLAY], cwd=directory)
    return directory


def run_buildout(server, directory):
    """bin/buildout -N of the server's overlay, saying which files it wrote."""
    output = run([os.path.join(directory, "bin", "buildout"), "-N", "-c", overlay.OVERLAY], cwd=directory)
    for line in output.splitlines():
        if line.startswith("surge: "):
            say(f"{server.name}: {line[len('surge: '):]}")


def build_server(repository, root, server, python, versions):
    started = time.monotonic()
    run_buildout(server, prepare_server(repository, root, server, python, versions))
    say(f"{server.name}: built in {time.monotonic() - started:.0f} s")


def seed_eggs(development_eggs, root):
    """Hard-link the development build's eggs into the cluster's eggs directory.

    Production builds keep their eggs where the daemons' users can read them
    (the build user's home is usually closed); linking is instant, where
    installing 330 eggs again takes minutes. Eggs never change once made.
    """
    if not development_eggs or not os.path.isdir(development_eggs):
        return 0
    # zc.buildout keeps eggs in a versioned subdirectory of the eggs directory
    # it is given (v5, or v5/cp311): keep that layout under the cluster's.
    versioned = []
    base = os.path.normpath(development_eggs)
    while re.fullmatch(r"(v|cp)\d+", os.path.basename(base)):
        versioned.insert(0, os.path.basename(base))
        base = os.path.dirname(base)
    target = os.path.join(root, "eggs", *versioned)
    os.makedirs(target, exist_ok=True)
    linked = 0
    for name in os.listdir(development_eggs):
        source, destination = os.path.join(development_eggs, name), os.path.join(target, name)
        if name.endswith(".egg") and not os.path.exists(destination):
            shutil.copytree(source, destination, copy_function=os.link, symlinks=True)
            linked += 1
    return linked


def prepare_root(repository, root, development_eggs=None):
    """The cluster root's eggs and releases; {package: version} of the releases."""
    folder = os.path.join(root, "releases")
    os.makedirs(folder, exist_ok=True)
    make_traversable(root)
    linked = seed_eggs(development_eggs, root)
    if linked:
        say(f"linked {linked} eggs from {development_eggs}")
    versions = {package: releases.release(repository, package, folder) for package in RELEASED}
    say("releases: " + ", ".join(f"{package} {version}" for package, version in versions.items()))
    return versions


def python3():
    return shutil.which("python3") or sys.executable


def build(repository, root, servers, development_eggs=None):
    versions = prepare_root(repository, root, development_eggs)
    for server in SERVERS:
        write_server_files(repository, root, server, versions)
    for server in servers:
        build_server(repository, root, server, python3(), versions)
    return 0


def check(root, servers):
    failures = 0
    for server in servers:
        directory = os.path.join(root, server.name)
        if not os.path.exists(os.path.join(directory, ".installed.cfg")):
            print(f"{server.name:11} not built (bin/cluster build {server.name})")
            failures += 1
            continue
        results = check_server(directory)
        if not results:
            print(f"{server.name:11} no checked files")
        for output, ok, message in results:
            name = os.path.relpath(output, directory)
            if ok:
                print(f"{server.name:11} {name:28} ok ({message})")
            else:
                failures += 1
                print(f"{server.name:11} {name:28} FAILED: {message}")
    return 1 if failures else 0
