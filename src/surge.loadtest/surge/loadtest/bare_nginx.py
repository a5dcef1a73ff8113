"""A bare nginx for bin/bench: the same bytes over TLS with nothing else, the web tier's ceiling.

Started by the bench on the cluster's spare address with web-1's
certificate, the same TLS protocols and worker settings as Surge's nginx
(buildout.d/prod-nginx.cfg's defaults) and nothing else: no logging, no
limits, no proxying. What the web tier serves from Varnish's cache is
measured against it.
"""

import contextlib
import gzip
import os
import shutil
import subprocess
import time

from surge.buildout.ops.waiting import reachable
from surge.cluster import topology

NAME = "bench-page.html"
# Debian's nginx, as [nginx-settings] binary.
BINARY = "/usr/sbin/nginx"
CONFIG = """worker_processes auto;
pid {directory}/nginx.pid;
daemon off;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    server {{
        listen {address}:{port} ssl http2;
        ssl_certificate {certificate};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:Bare:10m;
        location / {{
            root {directory}/www;
            gzip_static on;
        }}
    }}
}}
"""


@contextlib.contextmanager
def serving(directory, root, body):
    """A bare nginx serving BODY (and its gzipped copy) from DIRECTORY; yields the page's URL."""
    address, port = topology.SPARE_ADDRESS, topology.HTTPS_PORT
    www = os.path.join(directory, "www")
    os.makedirs(www, exist_ok=True)
    os.chmod(directory, 0o755)
    for path, data in ((os.path.join(www, NAME), body), (os.path.join(www, NAME + ".gz"), gzip.compress(body, 6))):
        with open(path, "wb") as stream:
            stream.write(data)
        os.chmod(path, 0o644)
    config = os.path.join(directory, "nginx.conf")
    tls = os.path.join(root, "tls")
    with open(config, "w") as stream:
        stream.write(CONFIG.format(directory=directory, address=address, port=port,
                                   certificate=os.path.join(tls, "web-1.crt"), key=os.path.join(tls, "web-1.key")))
    if reachable(f"{address}:{port}"):
        raise SystemExit(f"bench: {address}:{port} is taken; the bare nginx needs it")
    process = subprocess.Popen([shutil.which("nginx") or BINARY, "-c", config], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not reachable(f"{address}:{port}"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bench: the bare nginx did not start; see {directory}/error.log")
            time.sleep(0.2)
        yield f"https://{address}:{port}/{NAME}"
    finally:
        process.terminate()
        process.wait(timeout=30)
