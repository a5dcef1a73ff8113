"""A production build checks what it says about the other servers against
their own top-level files (here the cluster's overlays), naming both files,
and changes nothing when they disagree: from every side (an app server and a
web server about the log server, each app server about the other's instances,
history mode and session store, a web server about the site's id), and a
server-files entry for no server; and the record a build keeps of the other
servers' files holds only while they are unchanged."""

import json
import os
import stat

import pytest

from conftest import bad_setting_fails_and_keeps_live_files, run
from running import ADDRESS

CASES = [
    # app-master's HAProxy would give app-slave's instances 3 requests each; app-slave runs 2 threads.
    ("app-master", "instance-settings:threads=3",
     ["the command line: [instance-settings] threads = '3' here, but ../app-slave/cluster.cfg (app server "
      "app-slave) builds instance-settings threads = '2'"]),
    # app-slave would run its instances at other pools' priorities than HAProxy routes to.
    ("app-master", "instance-settings:author-instances=0",
     ["the command line: [instance-settings] author-instances = '0' here, but ../app-slave/cluster.cfg (app server "
      "app-slave) builds instance-settings author-instances = '1'"]),
    ("app-master", "ports:instance-base=8111",
     ["[ports] instance-base = '8111' here, but ../app-slave/cluster.cfg (app server app-slave) builds "
      "ports instance-base = '8101'"]),
    # Plone on app-slave would never purge web-2's Varnish.
    ("app-slave", f"instance-settings:caching-proxies=http://{ADDRESS['web-1']}:6081",
     [f"[instance-settings] caching-proxies does not list {ADDRESS['web-2']}:6081, where ../web-2/cluster.cfg "
      "(web server web-2) binds Varnish"]),
    # web-1's Varnish would refuse app-slave's purges.
    ("web-1", "topology:app-sources=app-master loopback",
     [f"[topology] app-sources does not admit {ADDRESS['app-slave']}, the address of ../app-slave/cluster.cfg "
      "(app server app-slave)"]),
    # app-master's rsyslog would receive where no server sends.
    ("app-master", "ports:rsyslog=5515",
     [f"[listen] rsyslog = '{ADDRESS['app-master']}:5515' here, but ../web-1/cluster.cfg (server web-1) forwards "
      f"its logs to {ADDRESS['app-master']}:5514"]),
    # From the other side: web-2 would forward its logs where the log server does not receive.
    ("web-2", "ports:rsyslog=5515",
     ["[topology] log-server names app-master ([hosts] app-master = ", "but ../app-master/cluster.cfg binds rsyslog on "
      f"'{ADDRESS['app-master']}:5514'"]),
    # app-slave alone keeping history, or its sessions elsewhere: one site, two databases' layouts or stores.
    ("app-slave", "relstorage-settings:keep-history=true",
     ["[relstorage-settings] keep-history = 'true' here, but ../app-master/cluster.cfg (app-servers app-master) "
      "builds relstorage-settings keep-history = 'false'"]),
    ("app-slave", "beaker-settings:type=file",
     ["[beaker-settings] type = 'file' here, but ../app-master/cluster.cfg (app-servers app-master) builds "
      "beaker-settings type = 'ext:memcached'"]),
    ("app-slave", "instance-settings:count=5",
     ["[instance-settings] count = '5' here, but ../app-master/cluster.cfg (app server app-master) builds "
      "instance-settings count = "]),
    # web-2's virtual host naming a site the app servers do not hold.
    ("web-2", "settings:site-id=Other",
     ["[settings] site-id = 'Other' here, but ../app-master/cluster.cfg (app-servers app-master) builds settings "
      "site-id = "]),
    # Where the other servers run their HAProxy, memcached, etcd and Patroni: on their own address and this port.
    ("web-2", "ports:haproxy=8250",
     [f"[topology] app-servers names app-master ([hosts] app-master = '{ADDRESS['app-master']}', [ports] haproxy = "
      f"8250), but ../app-master/cluster.cfg binds haproxy on '{ADDRESS['app-master']}:8200': Varnish sends misses"]),
    ("app-slave", "ports:memcached=11311",
     ["but ../app-master/cluster.cfg binds memcached on", "the instances keep part of their cache in its memcached"]),
    ("app-slave", "ports:patroni=8018",
     ["but ../app-master/cluster.cfg binds patroni on", "Patroni expects a member there"]),
    ("web-1", "etcd-settings:cluster-token=other",
     ["the command line: [etcd-settings] cluster-token = 'other' here, but ../app-master/cluster.cfg (voters "
      "app-master) builds etcd-settings cluster-token = ", "the voters form one etcd cluster"]),
    # A server-files entry for no server: the real server would be checked against another file.
    ("web-1", "topology:server-files+=web-3=../web-1/cluster.cfg",
     ["[topology] server-files names 'web-3', which is no server of [topology]"]),
]


@pytest.mark.parametrize("server, setting, says", CASES, ids=[f"{s}-{v.split('=')[0]}" for s, v, _ in CASES])
def test_a_build_that_disagrees_with_another_servers_file_fails_naming_both(cluster, server, setting, says):
    root, _ = cluster
    output = bad_setting_fails_and_keeps_live_files(os.path.join(root, server), setting, says[0])
    assert all(said in output for said in says[1:])


def test_what_a_build_remembers_of_another_servers_files_holds_until_one_of_them_changes(cluster):
    """A build keeps what its checks read of the other servers' files (var/checks/across.json, root's alone)
    and uses it while every file zc.buildout read for them is unchanged: a change to the other server's
    top-level file, or to a file only that server extends, is still refused."""
    root, _ = cluster
    master, slave = (os.path.join(root, name) for name in ("app-master", "app-slave"))
    run([os.path.join(master, "bin", "buildout"), "-N", "-c", "cluster.cfg"], cwd=master)
    memory = os.path.join(master, "var", "checks", "across.json")
    assert stat.S_IMODE(os.stat(memory).st_mode) == 0o600
    with open(memory) as stream:
        record = json.load(stream)["records"][os.path.join(slave, "cluster.cfg")]
    assert record["values"]["instance-settings"]["threads"] == "2", record["values"]
    assert os.path.join(slave, "buildout.d", "prod-instance.cfg") in record["files"], record["files"]
    says = "here, but ../app-slave/cluster.cfg (app server app-slave) builds instance-settings threads = '3'"
    changes = ((os.path.join(slave, "cluster.cfg"), "[hosts]\n", "[instance-settings]\nthreads = 3\n\n[hosts]\n"),
               (os.path.join(slave, "buildout.d", "prod-instance.cfg"), "\nthreads = 2\n", "\nthreads = 3\n"))
    for path, old, new in changes:
        with open(path) as stream:
            original = stream.read()
        assert original.count(old) == 1, (path, old)
        try:
            with open(path, "w") as stream:
                stream.write(original.replace(old, new))
            bad_setting_fails_and_keeps_live_files(master, "settings:mode=production", says)
        finally:
            with open(path, "w") as stream:
                stream.write(original)
