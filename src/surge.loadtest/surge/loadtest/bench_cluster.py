"""The cluster as bin/bench uses it: started if need be, its pools, a member's cookie."""

import gzip
import http.client
import os
import re
import ssl
import subprocess
import urllib.parse

from surge.buildout.ops import backup
from surge.cluster import running, topology
from surge.cluster.topology import APP_SERVERS, SERVERS
from surge.loadtest import content

STATIC_NAME = "bench-page.html"
INSTANCE = re.compile(r"^app-.*-\d+$")
RUNNING_INSTANCE = re.compile(r"^instance:instance-\d+\s+RUNNING\s+pid (\d+)", re.M)


class Cluster:
    def __init__(self, repository, options):
        self.repository, self.options = repository, options
        self.root = topology.default_root(repository)
        self.started = False
        self.site = options.sites.split()[0].rstrip("/")
        self._context = None

    @property
    def context(self):
        """TLS trusting the cluster's CA, which exists once start() has built the cluster."""
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.options.ca_file or None)
        return self._context

    def start(self):
        """bin/cluster build and up, so that the bench measures this checkout, unless every server runs
        already (then it measures the running cluster as it is)."""
        if all(running.supervisord_pid(os.path.join(self.root, s.name)) for s in SERVERS):
            print("bench: the cluster is running: measuring it as it was built", flush=True)
            return
        print("bench: building this checkout into the cluster and starting it (bin/cluster build, up)", flush=True)
        for command in ("build", "up"):
            subprocess.run([os.path.join(self.repository, "bin", "cluster"), command], check=True)
        self.started = True
        self.wait_for_backups()

    def backups_waiting(self):
        """Whether every app server's bin/backup has made the backup it makes when it starts and waits for
        the next one (the last line of its log)."""
        for server in APP_SERVERS:
            with open(os.path.join(self.root, server.name, "var", "log", "backup.log")) as stream:
                lines = [line for line in stream if line.strip()]
            if not lines or backup.WAITING not in lines[-1]:
                return False
        return True

    def wait_for_backups(self, deadline=300):
        """The app servers' first backups (pg_dump, seconds of CPU each) land in the first run's lull
        unless the bench waits for them."""
        print("bench: waiting for the app servers' first backups", flush=True)
        try:
            running.wait_for(self.backups_waiting, "the app servers' first backups", deadline=deadline)
        except running.ClusterError as error:
            print(f"bench: {error}; measuring anyway", flush=True)

    def restore(self):
        """Stop the cluster if start() started it."""
        if self.started:
            subprocess.run([os.path.join(self.repository, "bin", "cluster"), "down"], check=False)

    def fetch(self, url, method="GET", headers=None, body=None):
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=self.context, timeout=60)
        try:
            connection.request(method, parts.path or "/", body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def cached_page(self):
        """The front page's URL and bytes, once Varnish serves it from its cache."""
        url = self.site + "/"
        for _ in range(3):
            status, headers, body = self.fetch(url)
            if status == 200 and headers.get("X-Cache") == "HIT":
                return url, body
        raise SystemExit(f"bench: {url} is not served from Varnish's cache (X-Cache {headers.get('X-Cache')})")

    def static_path(self):
        return os.path.join(self.root, "web-1", "var", "www", STATIC_NAME)

    def publish_static(self, body):
        """The same bytes as a file web-1's nginx serves from disk, compressed too as Varnish stores it; its URL."""
        for path, data in ((self.static_path(), body), (self.static_path() + ".gz", gzip.compress(body, 6))):
            with open(path, "wb") as stream:
                stream.write(data)
        url = f"{self.site}/_surge/static/{STATIC_NAME}"
        status, _, served = self.fetch(url)
        if status != 200 or served != body:
            raise SystemExit(f"bench: {url} does not serve the page's bytes (status {status})")
        return url

    def unpublish_static(self):
        for path in (self.static_path(), self.static_path() + ".gz"):
            if os.path.exists(path):
                os.remove(path)

    def pools(self):
        """HAProxy's frontend URL and every instance: name, pool, address, threads (its maxconn)."""
        address = topology.ADDRESS["app-master"]
        instances = [{"name": server, "pool": pool, "address": row["addr"], "threads": int(row["slim"])}
                     for (pool, server), row in running.haproxy_stats(address).items() if INSTANCE.match(server)]
        return {"haproxy": f"http://{address}:{topology.HAPROXY_PORT}", "instances": instances}

    def hit_log(self, mode=None):
        """Rebuild web-1 with [varnish-settings] hit-log = MODE (None: as its files say) and restart its
        hit log, as an operator changes the setting."""
        directory = os.path.join(self.root, "web-1")
        override = [f"varnish-settings:hit-log={mode}"] if mode else []
        for command in ([os.path.join(directory, "bin", "buildout"), "-N", "-c", "cluster.cfg", *override],
                        [os.path.join(directory, "bin", "supervisorctl"), "restart", "varnish-hits"]):
            result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)
            if result.returncode:
                raise SystemExit(f"bench: {' '.join(command)} failed:\n{result.stdout}{result.stderr}")

    def instance_pids(self):
        """[pid] of every running Zope instance of the app servers (their supervisord's status)."""
        pids = []
        for server in APP_SERVERS:
            directory = os.path.join(self.root, server.name)
            status = subprocess.run([os.path.join(directory, "bin", "supervisorctl"), "status"],
                                    capture_output=True, text=True, check=False).stdout
            pids.extend(int(pid) for pid in RUNNING_INSTANCE.findall(status))
        if not pids:
            raise SystemExit(f"bench: no running instance in {self.root}")
        return pids

    def member_cookie(self):
        """The __ac cookie (name=value) of the first load test member."""
        form = content.login_form("member-1", self.options.account_password)
        _, headers, _ = self.fetch(self.site + "/login", "POST",
                                   {"Content-Type": "application/x-www-form-urlencoded"}, form)
        for value in headers.get_all("Set-Cookie") or ():
            if value.startswith("__ac="):
                return value.split(";", 1)[0]
        raise SystemExit("bench: member-1 could not log in")

    def virtual_host_prefix(self):
        """The path the web servers' nginx puts before a page's path for Zope (VirtualHostBase...)."""
        return topology.VIRTUAL_HOST_PREFIX
