#!/usr/bin/env python3
"""Make this Debian 12 host the production server its hostname names (as root, standard library only).

Steps, each printed as it starts, each doing nothing when already done, so a
second run is safe and a failed run can be run again:

1. pick the top-level file by hostname (as bootstrap.py does; -c wins) and
   prepare bin/buildout (bootstrap.py);
2. read what the file's fragments take from Debian ([debian] packages,
   services, users), as zc.buildout reads it;
3. install the missing packages, their own services kept from starting;
4. stop, disable and mask Debian's units of those daemons (they would bind
   the ports Surge's supervisord gives the same daemons);
5. create Surge's own system users;
6. build the server (bin/buildout: every setting checked, every file
   checked by its daemon's checker, nothing changed on a refusal);
7. load the host firewall (bin/firewall);
8. install the systemd units the build rendered (etc/systemd/), enable them,
   and start them when systemd runs this host.

Before the first run: the secrets file (/etc/surge/secrets.cfg, mode 0600,
docs/secrets.rst) and, on a web server, the site's certificate and key.
docs/operations/build-a-server.rst is the whole task.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys

import bootstrap

HERE = os.path.dirname(os.path.abspath(__file__))
UNITS = os.path.join(HERE, "etc", "systemd")
SYSTEMD_UNITS = "/etc/systemd/system"
# What bootstrap.py itself needs from Debian: its venv module, and the
# certificate store for fetching pip and the eggs over HTTPS.
BOOTSTRAP_PACKAGES = ("python3-venv", "ca-certificates")
# Read by the build's own Python: zc.buildout resolves extends, += and ${...}.
READ_DEBIAN = """
import json, sys
from zc.buildout.buildout import Buildout
buildout = Buildout(sys.argv[1], [("buildout", "log-level", "WARNING")])
print(json.dumps({key: buildout["debian"][key].split() for key in ("packages", "services", "users")}))
"""


class ProvisionError(Exception):
    """A problem the operator can fix; printed without a traceback."""


def say(step, message):
    print(f"provision: [{step}/8] {message}", flush=True)


def run(command, **kwargs):
    try:
        return subprocess.run(command, check=True, **kwargs)
    except subprocess.CalledProcessError as error:
        raise ProvisionError(f"{' '.join(command)} failed (exit {error.returncode})") from None


def systemd_runs():
    """Whether systemd is this host's init (not in a container or a namespace without it)."""
    return os.path.isdir("/run/systemd/system")


def missing_packages(packages):
    missing = []
    for package in packages:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if status.returncode or not status.stdout.endswith(" installed"):
            missing.append(package)
    return missing


def install_packages(packages):
    """apt-get install PACKAGES, their services kept from starting (policy-rc.d says 101)."""
    policy = "/usr/sbin/policy-rc.d"
    ours = not os.path.exists(policy)
    if ours:
        with open(policy, "w") as stream:
            stream.write("#!/bin/sh\n# provision.py: packages' services stay off while it installs them.\nexit 101\n")
        os.chmod(policy, 0o755)
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run(["apt-get", "update", "-q"], env=environment)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=environment)
    finally:
        if ours:
            os.remove(policy)


def debian_needs(config):
    """{packages, services, users} of CONFIG's [debian], read by the build's zc.buildout."""
    python = os.path.join(bootstrap.VENV, "bin", "python")
    result = subprocess.run([python, "-c", READ_DEBIAN, config], cwd=HERE, capture_output=True, text=True)
    if result.returncode:
        raise ProvisionError(f"cannot read [debian] of {config}:\n{result.stderr.strip()}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def switch_off(services):
    """Stop and disable (when systemd runs) and mask each unit: it never starts again."""
    for unit in services:
        if systemd_runs():
            subprocess.run(["systemctl", "disable", "--now", unit], capture_output=True)
        run(["systemctl", "mask", unit], capture_output=True)
        print(f"provision: {unit} masked")


def create_users(users):
    for user in users:
        try:
            subprocess.run(["id", "-u", user], check=True, capture_output=True)
        except subprocess.CalledProcessError:
            run(["adduser", "--system", "--group", "--no-create-home", "--home", "/nonexistent", user])
            print(f"provision: system user {user} created")


def install_units():
    """Copy the rendered units into /etc/systemd/system and enable them; their names."""
    if not os.path.isdir(UNITS):
        raise ProvisionError(f"the build rendered no systemd units ({UNITS} is missing)")
    names = sorted(name for name in os.listdir(UNITS) if name.endswith(".service"))
    for name in names:
        shutil.copyfile(os.path.join(UNITS, name), os.path.join(SYSTEMD_UNITS, name))
        os.chmod(os.path.join(SYSTEMD_UNITS, name), 0o644)
    if systemd_runs():
        run(["systemctl", "daemon-reload"])
    run(["systemctl", "enable", *names], capture_output=True)
    return names


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="provision.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", dest="config", metavar="FILE",
                        help="top-level file to build (default: the production server this hostname names)")
    return parser.parse_args(argv)


def provision(config):
    hostname = socket.gethostname()
    say(1, f"{config} for host {hostname}; preparing bin/buildout")
    missing = missing_packages(BOOTSTRAP_PACKAGES)
    if missing:
        install_packages(missing)
    broken = bootstrap.missing_extends(config)
    if broken:
        raise ProvisionError("\n           ".join(broken))
    try:
        bootstrap.bootstrap(config)
    except bootstrap.BootstrapError as error:
        raise ProvisionError(str(error)) from None
    say(2, f"reading what {config} takes from Debian")
    needs = debian_needs(config)
    missing = missing_packages(needs["packages"])
    say(3, f"installing {' '.join(missing)}" if missing else f"packages: all {len(needs['packages'])} installed")
    if missing:
        install_packages(missing)
    say(4, f"switching off Debian's {' '.join(needs['services']) or 'nothing'}")
    switch_off(needs["services"])
    say(5, f"system users: {' '.join(needs['users']) or 'none'}")
    create_users(needs["users"])
    say(6, f"building {config}")
    run([os.path.join(HERE, "bin", "buildout"), "-N", "-c", config], cwd=HERE)
    say(7, "loading the host firewall")
    run([os.path.join(HERE, "bin", "firewall")], cwd=HERE)
    say(8, "installing the systemd units")
    names = install_units()
    if systemd_runs():
        run(["systemctl", "start", *names])
        print(f"provision: {' '.join(names)} enabled and started")
    else:
        print(f"provision: {' '.join(names)} enabled; systemd does not run here, so nothing was started "
              "(bin/supervisord starts the server by hand)")


def main(argv=None):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("provision: run me as root: I install packages, mask services, create users and load the firewall",
              file=sys.stderr)
        return 2
    config = args.config or bootstrap.config_for_host(socket.gethostname())
    if config == bootstrap.DEVELOPMENT and not args.config:
        print(f"provision: {socket.gethostname()!r} is not a production server's name "
              "(python3 bootstrap.py --show-servers lists them); -c FILE names the file", file=sys.stderr)
        return 2
    if not os.path.exists(os.path.join(HERE, config)):
        print(f"provision: {config} does not exist in {HERE}", file=sys.stderr)
        return 2
    try:
        provision(config)
    except ProvisionError as error:
        print(f"provision: {error}", file=sys.stderr)
        return 1
    print(f"provision: {socket.gethostname()} is {config}, built, its firewall loaded, its units installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
