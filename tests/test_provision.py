"""``provision.py`` on each of the four servers as root, in UTS, mount and network namespaces of its own (the
production hostname and address, a copy of ``/etc``): the file the hostname names is built unchanged, Debian's
units of its daemons are masked and the system's own are not, the Zope user is created, the firewall is in the
namespace's kernel, and ``surge.service`` and ``surge-firewall.service`` are installed, enabled and pass
``systemd-analyze verify``.

Each server's run happens in new UTS, mount and network namespaces: the
hostname is the server's production name, /etc is a copy (the hosts file
names the production servers, /etc/surge holds the secrets and the site's
certificate, systemd's units and the users are the copy's), and the network
has the server's production address (on its loopback interface), and its
own netfilter, into which the firewall loads. The machine itself is unchanged. The production file is
built unchanged: only the user's buildout defaults (eggs directory, a
release folder with this checkout's packages at the versions versions.cfg
pins) differ, where a production host has its own and the releases server.
"""

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO, run
from surge.cluster import building, checkout, releases

pytestmark = pytest.mark.slow

# The production names of [hosts] (buildout.d/base.cfg) and addresses for them, in the namespaces only.
HOSTS = {"web-1": ("web-1.surge.internal", "10.20.0.11"), "web-2": ("web-2.surge.internal", "10.20.0.12"),
         "app-master": ("app-1.surge.internal", "10.20.0.21"), "app-slave": ("app-2.surge.internal", "10.20.0.22")}
# Each server's own files, files of other roles it must not have, its programs, and the Debian units its
# fragments mask.
WEB_UNITS = {"nginx.service", "varnish.service", "varnishncsa.service", "munin-node.service", "nftables.service"}
APP_UNITS = {"haproxy.service", "postgresql.service", "patroni.service", "memcached.service", "etcd.service",
             "munin-node.service", "nftables.service"}
EXPECTED = {
    "web-1": ({"etc/nginx.conf", "etc/varnish.vcl"}, {"etc/haproxy.cfg", "etc/patroni.yml"}, {"etcd"},
              WEB_UNITS | {"etcd.service"}),
    "web-2": ({"etc/nginx.conf", "etc/varnish.vcl"}, {"etc/haproxy.cfg", "etc/patroni.yml"}, set(), WEB_UNITS),
    "app-master": ({"etc/haproxy.cfg", "etc/patroni.yml", "etc/nginx-logs.conf"}, {"etc/nginx.conf", "etc/varnish.vcl"},
                   {"etcd", "patroni", "haproxy", "memcached"}, APP_UNITS),
    "app-slave": ({"etc/haproxy.cfg", "etc/patroni.yml"}, {"etc/nginx.conf", "etc/varnish.vcl", "etc/nginx-logs.conf"},
                  {"etcd", "patroni", "haproxy", "memcached"}, APP_UNITS),
}
NOT_MASKED = {"rsyslog.service", "ssh.service", "cron.service"}


@pytest.fixture(scope="module")
def host_kit(cluster):
    """What every host's run shares: a release folder with this checkout's packages at the versions
    versions.cfg pins; and the cluster's root, whose eggs each host's build starts from."""
    root, _ = cluster
    kit = tempfile.mkdtemp(prefix="surge-hosts-", dir="/tmp")
    os.chmod(kit, 0o755)
    try:
        pins = dict(re.findall(r"^(surge\.\w+)\s*=\s*(\S+)", open(os.path.join(REPO, "versions.cfg")).read(), re.M))
        folder = os.path.join(kit, "releases")
        os.makedirs(folder)
        for package in building.RELEASED:
            releases.release(REPO, package, folder, version=pins[package])
        yield kit, root
    finally:
        shutil.rmtree(kit, ignore_errors=True)


def prepare_host(kit, root, server):
    """A host's checkout (bin/buildout prepared, as its operator's first step) and its /etc copy."""
    host = tempfile.mkdtemp(prefix=f"host-{server}-", dir=kit)
    os.chmod(host, 0o755)
    directory = os.path.join(host, "surge")
    checkout.sync(REPO, directory)
    # Production keeps its eggs in the build ([buildout] eggs-directory): linked from the cluster's.
    building.seed_eggs(os.path.join(root, "eggs", "v5"), directory)
    home = os.path.join(host, "home")
    os.makedirs(os.path.join(home, ".buildout"))
    with open(os.path.join(home, ".buildout", "default.cfg"), "w") as stream:
        stream.write(f"[buildout]\nfind-links = {os.path.join(kit, 'releases')}\n")
    config = f"prod-{server}.cfg"
    run(["python3", "bootstrap.py", "-c", config], cwd=directory, env=dict(os.environ, HOME=home))
    etc = os.path.join(host, "etc")
    run(["cp", "-a", "/etc", etc])
    with open(os.path.join(etc, "hosts"), "a") as stream:
        stream.write("".join(f"{address} {name}\n" for name, address in HOSTS.values()))
        # Nothing answers there: the release folder has the packages.
        stream.write("127.0.0.1 releases.surge.internal\n")
    surge = os.path.join(etc, "surge")
    os.makedirs(os.path.join(surge, "tls"), exist_ok=True)
    shutil.copy(os.path.join(root, "secrets.cfg"), os.path.join(surge, "secrets.cfg"))
    os.chmod(os.path.join(surge, "secrets.cfg"), 0o600)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=www.example.org",
         "-keyout", os.path.join(surge, "tls", "site.key"), "-out", os.path.join(surge, "tls", "site.crt")])
    os.chmod(os.path.join(surge, "tls", "site.key"), 0o600)
    return host, directory, home, etc


def provision_in_namespaces(server, directory, home, etc):
    """provision.py as root on a host named and addressed as SERVER, in namespaces of its own: its output,
    then what the host's kernel has of the firewall."""
    name, address = HOSTS[server]
    script = f"""set -e
mount --make-rprivate /
mount --bind {etc} /etc
hostname {name}
ip link set lo up
ip addr add {address}/32 dev lo
# The Zope user is created by provision.py on a fresh host.
if id plone >/dev/null 2>&1; then userdel plone; fi
HOME={home} python3 {directory}/provision.py
echo "== firewall"
nft list table inet surge
"""
    return subprocess.run(["unshare", "--uts", "--mount", "--net", "--fork", "--kill-child", "sh", "-c", script],
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.parametrize("server", list(HOSTS))
def test_provision_builds_the_server_its_hostname_names_masks_debian_units_installs_valid_units(host_kit, server):
    kit, root = host_kit
    host, directory, home, etc = prepare_host(kit, root, server)
    try:
        result = provision_in_namespaces(server, directory, home, etc)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        output, firewall = result.stdout.split("== firewall\n")
        name = HOSTS[server][0]
        assert f"provision: [1/8] prod-{server}.cfg for host {name}" in output
        assert re.search(r"packages: all \d+ installed", output), output
        present, absent, programs, masked = EXPECTED[server]
        assert {path for path in present | absent if os.path.isfile(os.path.join(directory, path))} == present
        configured = open(os.path.join(directory, "etc", "supervisord.conf")).read()
        assert all(f"[program:{program}]" in configured for program in programs), programs
        # The Debian units: masked (a link to /dev/null in the host's /etc), the system's own left alone.
        units = os.path.join(etc, "systemd", "system")
        for unit in masked:
            assert os.readlink(os.path.join(units, unit)) == "/dev/null", unit
        for unit in NOT_MASKED:
            path = os.path.join(units, unit)
            assert not (os.path.islink(path) and os.readlink(path) == "/dev/null"), unit
        # Surge's units: installed, enabled, valid for systemd (bin/supervisord exists now).
        for unit, target in (("surge.service", "multi-user.target.wants"),
                             ("surge-firewall.service", "sysinit.target.wants")):
            installed = os.path.join(units, unit)
            assert os.path.isfile(installed) and os.path.islink(os.path.join(units, target, unit)), unit
            verified = run(["systemd-analyze", "verify", "--man=no", installed], check=False)
            assert verified.returncode == 0, verified.stdout
        assert os.path.join(directory, "bin", "supervisord") in open(os.path.join(units, "surge.service")).read()
        # The firewall is loaded into the host's (the namespace's) kernel.
        assert firewall.startswith("table inet surge") and "tcp dport" in firewall, firewall
        if server.startswith("app-"):
            assert re.search(r"^plone:", open(os.path.join(etc, "passwd")).read(), re.M), "the Zope user"
            assert "system user plone created" in output
    finally:
        shutil.rmtree(host, ignore_errors=True)
