"""bin/migrate: a development site filled with a realistic sample, exported (from its database and over
HTTP), imported into the cluster's site on RelStorage/PostgreSQL, compared item by item; imported again,
nothing new; bad input refused with nothing changed (an export whose blob path or link leads outside it among
it); export --url never sends the password in the clear to another machine nor across a redirect to another
origin."""

import base64
import contextlib
import hashlib
import http.server
import json
import os
import re
import shutil
import struct
import threading
import urllib.error
import urllib.request
import uuid
import zlib

import pytest

from conftest import Server, run, wait_for_http
from running import APP_MASTER, BASE, ZOPE_USER, admin_password, app_tier_running
from surge.buildout import secretsfile

pytestmark = pytest.mark.slow

PASSWORD = "Migrated-Member-Password-7261"
# The development build's second site, so that test_builds.py finds its own /Plone untouched.
SOURCE_ID = "Source"
USERS = ("ann", "bob", "cid")
GROUPS = {"editors-team": ("ann", "bob"), "readers": ("cid",)}


class Site:
    """A Plone site's REST API as its Zope admin (or as USER): JSON in, JSON out."""

    def __init__(self, url, password, user="admin"):
        self.url = url.rstrip("/")
        self.authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method, path, data=None, raw=False):
        request = urllib.request.Request(
            self.url + path, method=method, data=None if data is None else json.dumps(data).encode(),
            headers={"Accept": "application/json", "Content-Type": "application/json",
                     "Authorization": self.authorization})
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        return body if raw else (json.loads(body) if body else None)

    def add(self, container, **fields):
        return self.call("POST", container, fields)


def png(width, height, seed):
    """A real PNG (Plone reads images' sizes), its pixels from SEED."""
    rows = b"".join(b"\x00" + bytes((seed * 7 + x * 13 + y * 17) % 256 for x in range(width * 3))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def blob(data, filename, content_type):
    return {"data": base64.b64encode(data).decode(), "encoding": "base64", "filename": filename,
            "content-type": content_type}


def fill(site):
    """Folders, pages, news, events, the site's own type, images and files, users and groups with local
    roles, private and published items, a relation, a redirect, a custom order."""
    for user in USERS:
        site.add("/@users", username=user, email=f"{user}@example.org", password=PASSWORD, fullname=user.title())
    for group, members in GROUPS.items():
        site.add("/@groups", groupname=group, title=group.title(), users=list(members))
    site.add("", **{"@type": "Folder", "id": "section", "title": "Section"})
    site.add("/section", **{"@type": "Folder", "id": "archive", "title": "Archive"})
    site.add("/section", **{"@type": "Document", "id": "page-a", "title": "Page A",
                            "text": {"data": "<p>Published page</p>", "content-type": "text/html"}})
    site.add("/section", **{"@type": "Document", "id": "draft", "title": "A private draft"})
    site.add("/section", **{"@type": "News Item", "id": "news-1", "title": "News one"})
    site.add("/section", **{"@type": "Event", "id": "event-1", "title": "Event one",
                            "start": "2026-12-01T10:00:00+00:00", "end": "2026-12-01T12:00:00+00:00"})
    site.add("/section", **{"@type": "Announcement", "id": "notice", "title": "Notice", "urgent": True,
                            "text": {"data": "<p>Maintenance tonight</p>", "content-type": "text/html"}})
    site.add("/section/archive", **{"@type": "Image", "id": "photo", "title": "Photo",
                                    "image": blob(png(64, 48, 3), "photo.png", "image/png")})
    site.add("/section/archive", **{"@type": "File", "id": "report", "title": "Report",
                                    "file": blob(os.urandom(300_000), "report.bin", "application/octet-stream")})
    for path in ("/section", "/section/page-a", "/section/news-1", "/section/event-1", "/section/notice"):
        site.call("POST", f"{path}/@workflow/publish")
    site.call("POST", "/section/@sharing", {"entries": [
        {"id": "ann", "type": "user", "roles": {"Editor": True}},
        {"id": "editors-team", "type": "group", "roles": {"Reviewer": True, "Contributor": True}}]})
    site.call("POST", "/section/archive/@sharing", {"entries": [
        {"id": "cid", "type": "user", "roles": {"Reader": True}}]})
    news_uid = site.call("GET", "/section/news-1")["UID"]
    site.call("PATCH", "/section/page-a", {"relatedItems": [news_uid]})
    site.call("POST", "/section/page-a/@aliases", {"items": [{"path": "/old-page-a"}]})
    # Not the order of creation: the notice first, the draft last.
    site.call("PATCH", "/section", {"ordering": {"obj_id": "notice", "delta": "top"}})
    site.call("PATCH", "/section", {"ordering": {"obj_id": "draft", "delta": "bottom"}})


def snapshot(site):
    """What the migration must carry, read through the REST API."""
    found = site.call("GET", "/@search?b_size=1000&sort_on=path&metadata_fields=UID&metadata_fields=review_state")
    items = {}
    for brain in found["items"]:
        path = brain["@id"][len(site.url):] or "/"
        item = {"UID": brain["UID"], "type": brain["@type"], "state": brain["review_state"]}
        if brain["@type"] in ("Image", "File"):
            field = "image" if brain["@type"] == "Image" else "file"
            item["bytes"] = hashlib.sha256(site.call("GET", f"{path}/@@download/{field}", raw=True)).hexdigest()
        items[path] = item
    roles = {}
    for path in ("/section", "/section/archive"):
        entries = site.call("GET", f"{path}/@sharing")["entries"]
        roles[path] = {entry["id"]: sorted(role for role, value in entry["roles"].items() if value is True)
                       for entry in entries if any(value is True for value in entry["roles"].values())}
    users = {user["id"]: (user["email"], user["fullname"]) for user in site.call("GET", "/@users")["items"]}
    groups = {group: sorted(member for member in site.call("GET", f"/@groups/{group}")["members"]["items"])
              for group in GROUPS}
    page = site.call("GET", "/section/page-a")
    return {
        "items": items,
        "local roles": roles,
        "users": {user: users.get(user) for user in USERS},
        "groups": groups,
        "related": [related["UID"] for related in page["relatedItems"]],
        "order": [child["@id"].rsplit("/", 1)[1] for child in site.call("GET", "/section")["items"]],
    }


@pytest.fixture(scope="module")
def source(dev_build, tmp_path_factory):
    """The development site, filled, with its instance running: (checkout, Site)."""
    directory, port, _ = dev_build
    run(["bin/create-site", "--site-id", SOURCE_ID], cwd=directory, timeout=600)
    instance = Server(["bin/instance", "fg"], directory, str(tmp_path_factory.mktemp("source") / "instance.log"))
    try:
        url = f"http://localhost:{port}/{SOURCE_ID}"
        wait_for_http(url, deadline_seconds=180, process=instance.process)
        site = Site(url, dev_admin_password(directory))
        fill(site)
        yield directory, site
    finally:
        instance.stop()


def dev_admin_password(directory):
    return secretsfile.value(os.path.join(directory, "secrets.cfg"), "zope-admin-password")


@pytest.fixture(scope="module")
def target(cluster):
    """The cluster's app tier running: (app-master's directory, Site on its first instance)."""
    root, _ = cluster
    with app_tier_running(root):
        yield os.path.join(root, "app-master"), Site(f"http://{APP_MASTER}:{BASE}/Plone", admin_password(root))


def migrate(directory, *arguments, user=None, env=None, check=True):
    command = [os.path.join(directory, "bin", "migrate"), *arguments]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    return run(command, cwd="/", env=env, check=check, timeout=1200)


def give_to_the_instances_user(folder):
    """An export is its maker's alone (it holds password hashes): the importing user gets it, as in production."""
    for parent, _, files in os.walk(folder):
        shutil.chown(parent, ZOPE_USER)
        for name in files:
            if not os.path.islink(os.path.join(parent, name)):  # never the file a link points at
                shutil.chown(os.path.join(parent, name), ZOPE_USER)


def test_export_import_carries_everything_and_a_second_import_adds_nothing(source, target, cluster):
    checkout, source_site = source
    master, target_site = target
    expected = snapshot(source_site)
    assert len(expected["items"]) >= 15 and expected["related"] and expected["local roles"]["/section"]

    folder = os.path.join(cluster[0], "export")
    exported = migrate(checkout, "--site-id", SOURCE_ID, "export", folder).stdout
    assert "migrate: exported" in exported and "items/s" in exported
    # The same site over HTTP, as from another server: the same items.
    over_http = os.path.join(cluster[0], "export-over-http")
    env = {**os.environ, "SURGE_MIGRATE_PASSWORD": dev_admin_password(checkout)}
    migrate(checkout, "export", over_http, "--url", source_site.url, "--user", "admin", env=env)
    assert sorted(os.listdir(os.path.join(folder, "content"))) == \
        sorted(os.listdir(os.path.join(over_http, "content")))
    give_to_the_instances_user(folder)

    first = migrate(master, "import", folder, user=ZOPE_USER).stdout
    # The sample's items are new; the site's examples (news, events, Members) and the site itself are updated.
    new = sum(1 for path in expected["items"] if path.startswith("/section"))
    updated = len(expected["items"]) - new
    assert "import: " in first and "items/s" in first
    assert f": {new} new, {updated} updated, 0 dropped, 0 incomplete" in first, first
    assert re.search(r"users \d+ \(3 new\), groups \d+ \(2 new\)", first), first
    migrated = snapshot(target_site)
    # Everything but the site itself (the target's own, of another UID).
    for path, item in expected["items"].items():
        assert path == "/" or migrated["items"].get(path) == item, path
    for key in ("local roles", "users", "groups", "related", "order"):
        assert migrated[key] == expected[key], key
    # The users' passwords came along: cid logs in with hers and sees the private folder her local role opens
    # (the page, not the REST API, which Plone keeps for managers); another password is sent to the login form.
    assert page(f"{target_site.url}/section/archive", "cid", PASSWORD)[0] == 200
    assert page(f"{target_site.url}/section/archive", "cid", "not-her-password")[0] == 302
    # The redirect came along.
    with pytest.raises(urllib.error.HTTPError) as redirected:
        urllib.request.build_opener(NoRedirect).open(f"{target_site.url}/old-page-a", timeout=60)
    assert redirected.value.code in (301, 302)
    assert redirected.value.headers["Location"].endswith("/section/page-a")

    second = migrate(master, "import", folder, user=ZOPE_USER).stdout
    assert re.search(r": 0 new, \d+ updated, 0 dropped, 0 incomplete; users \d+ \(0 new\), groups \d+ \(0 new\)",
                     second), second
    assert snapshot(target_site) == migrated


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def page(url, user, password):
    """(status, body) of URL as USER, redirects not followed."""
    request = urllib.request.Request(url, headers={
        "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def first_blob(folder):
    """(the item's path, its data file, its data, the field) of the export's first item with a file."""
    for parent, _, files in os.walk(os.path.join(folder, "content")):
        if "data.json" in files:
            data_file = os.path.join(parent, "data.json")
            with open(data_file) as stream:
                data = json.load(stream)
            for field, value in data.items():
                if isinstance(value, dict) and "blob_path" in value:
                    return data["@id"], data_file, data, field
    raise AssertionError(f"no item with a file in {folder}")


def refused_hostile_exports(checkout, master, folder):
    """An export whose blob path leads outside it (absolute, "..", through a link) is refused, naming the item."""
    migrate(checkout, "--site-id", SOURCE_ID, "export", folder)
    path, data_file, data, field = first_blob(folder)
    blob = os.path.join(folder, "content", data[field]["blob_path"])
    zope_conf = os.path.join(master, "parts", "instance", "etc", "zope.conf")
    with open(data_file) as stream:
        original = stream.read()
    upwards = os.path.relpath(zope_conf, os.path.join(folder, "content"))
    for hostile in (zope_conf, "../../../../../../../../etc/hostname", upwards):
        data[field]["blob_path"] = hostile
        with open(data_file, "w") as stream:
            json.dump(data, stream)
        give_to_the_instances_user(folder)
        result = migrate(master, "import", folder, user=ZOPE_USER, check=False)
        assert result.returncode == 1 and f"{path}: blob {hostile}" in result.stdout, result.stdout
        assert "leads outside the export" in result.stdout and "nothing was changed" in result.stdout
    with open(data_file, "w") as stream:
        stream.write(original)
    os.remove(blob)
    os.symlink(zope_conf, blob)
    give_to_the_instances_user(folder)
    result = migrate(master, "import", folder, user=ZOPE_USER, check=False)
    assert result.returncode == 1 and f"link {os.path.relpath(blob, folder)}" in result.stdout, result.stdout
    shutil.rmtree(folder)


def test_bad_input_is_refused_naming_it_and_the_site_is_left_as_it_was(source, target, cluster, tmp_path):
    checkout, source_site = source
    master, target_site = target
    before = snapshot(target_site)

    missing = migrate(master, "import", os.path.join(cluster[0], "nothing-here"), user=ZOPE_USER, check=False)
    assert missing.returncode == 1 and "nothing-here does not exist; nothing was changed" in missing.stdout
    unreadable = migrate(master, "import", str(tmp_path), user=ZOPE_USER, check=False)
    assert unreadable.returncode == 1 and "cannot be read by this user" in unreadable.stdout

    folder = os.path.join(cluster[0], "export-unknown-type")
    migrate(checkout, "--site-id", SOURCE_ID, "export", folder)
    for name in os.listdir(os.path.join(folder, "content")):
        data_file = os.path.join(folder, "content", name, "data.json")
        if os.path.isfile(data_file):
            with open(data_file) as stream:
                data = json.load(stream)
            if data["@id"] == "/section/news-1":
                data["@type"] = "Gadget"
                with open(data_file, "w") as stream:
                    json.dump(data, stream)
    give_to_the_instances_user(folder)
    unknown = migrate(master, "import", folder, user=ZOPE_USER, check=False)
    assert unknown.returncode == 1
    assert "types this site does not have: Gadget (1: /section/news-1)" in unknown.stdout
    assert "nothing was changed" in unknown.stdout

    refused_hostile_exports(checkout, master, os.path.join(cluster[0], "export-hostile"))

    env = {**os.environ, "SURGE_MIGRATE_PASSWORD": "not-the-password"}
    refused = migrate(checkout, "export", str(tmp_path / "refused"), "--url", source_site.url, "--user", "admin",
                      env=env, check=False)
    assert refused.returncode == 1 and "refused admin's credentials (HTTP 401)" in refused.stdout
    assert not (tmp_path / "refused").exists()
    not_plone = migrate(checkout, "export", str(tmp_path / "not-plone"), "--url",
                        source_site.url.rsplit("/", 1)[0], "--user", "admin",
                        env={**os.environ, "SURGE_MIGRATE_PASSWORD": dev_admin_password(checkout)}, check=False)
    assert not_plone.returncode == 1 and "not a Plone 6 site with plone.exportimport" in not_plone.stdout
    existing = migrate(checkout, "export", os.path.join(cluster[0], "export-unknown-type"), check=False)
    assert existing.returncode == 1 and "is not an empty folder" in existing.stdout

    assert snapshot(target_site) == before
    shutil.rmtree(folder)


# What bin/migrate sends the stand-in servers below (no real site's).
STUB_PASSWORD = uuid.uuid4().hex


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers a POST to /@export with a redirect to server.redirect_to (if set), anything else with 404; keeps
    every request's path and Authorization header in server.seen."""

    def answer(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        if self.command == "POST" and self.path.endswith("/@export") and self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def recorders(*addresses):
    servers = [http.server.ThreadingHTTPServer((address, 0), Recorder) for address in addresses]
    for server in servers:
        server.seen, server.redirect_to = [], None
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("url", ["http://192.0.2.10/Plone", "HTTP://old.example.org:8080/Plone",
                                 "http://10.1.2.3/Plone", "http://127.0.0.1.nip.io/Plone"])
def test_export_refuses_to_send_the_password_in_the_clear_to_another_machine(dev_build, tmp_path, url):
    checkout, _, _ = dev_build
    env = {**os.environ, "SURGE_MIGRATE_PASSWORD": STUB_PASSWORD}
    refused = migrate(checkout, "export", str(tmp_path / "export"), "--url", url, "--user", "admin", env=env,
                      check=False)
    assert refused.returncode == 1
    assert "in the clear (plain HTTP to another machine)" in refused.stdout
    assert "--plain-http" in refused.stdout
    assert not (tmp_path / "export").exists()


def test_export_never_carries_the_password_across_a_redirect_to_another_host(dev_build, tmp_path):
    checkout, _, _ = dev_build
    env = {**os.environ, "SURGE_MIGRATE_PASSWORD": STUB_PASSWORD}
    expected = "Basic " + base64.b64encode(f"admin:{STUB_PASSWORD}".encode()).decode()
    with recorders("127.0.0.1", "127.0.0.2", "127.0.0.1") as (first, other, third):
        # The positive control: to the same origin the credentials go along.
        first.redirect_to = f"http://127.0.0.1:{first.server_port}/moved"
        migrate(checkout, "export", str(tmp_path / "same"), "--url", f"http://127.0.0.1:{first.server_port}/Plone",
                "--user", "admin", env=env, check=False)
        assert first.seen == [("POST", "/Plone/@export", expected), ("GET", "/moved", expected)]
        # Another host by address, by name (the same machine, but not the origin the operator named), by a
        # scheme-relative Location, and another port.
        for target in (f"http://127.0.0.2:{other.server_port}/Plone", f"http://localhost:{first.server_port}/x",
                       f"//127.0.0.2:{other.server_port}/y", f"http://127.0.0.1:{third.server_port}/z"):
            for server in (first, other, third):
                server.seen.clear()
            first.redirect_to = target
            result = migrate(checkout, "export", str(tmp_path / "other"), "--url",
                             f"http://127.0.0.1:{first.server_port}/Plone", "--user", "admin", env=env, check=False)
            assert result.returncode == 1 and not (tmp_path / "other").exists()
            sent, *redirected = first.seen + other.seen + third.seen
            assert sent == ("POST", "/Plone/@export", expected)
            assert [request[0] for request in redirected] == ["GET"], (target, redirected)
            assert redirected[0][2] is None, target
