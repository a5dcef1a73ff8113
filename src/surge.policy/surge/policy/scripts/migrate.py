"""bin/migrate: bring a Plone site's content, users and groups into this site.

    bin/migrate export FOLDER                       this build's site, from its database
    bin/migrate export FOLDER --url URL --user NAME a running Plone 6 site, over HTTPS
    bin/migrate import FOLDER                       into this build's site

Built on plone.exportimport (Plone's own export and import since 6.1; the
docs say why not collective.exportimport): content of every type with its
blobs, workflow state and history, local roles, ordering, default pages,
relations, redirects, users (with their password hashes) and groups.

An export is written beside FOLDER and renamed to it when complete, so FOLDER
is whole or absent. An import checks the folder first (an export, every type
known to this site, no blob path or link leading outside the folder) and
changes nothing when a check fails; it updates items
that exist (same path), so running it again creates nothing new.
"""

import argparse
import getpass
import ipaddress
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from base64 import b64encode
from pathlib import Path

import transaction

from surge.policy import confined
from surge.policy.scripts.zopeapp import require_user

PROGRAM = "migrate"
PASSWORD_VARIABLE = "SURGE_MIGRATE_PASSWORD"
METADATA = confined.METADATA
# plone.exportimport's log lines that say how far it is (plone/exportimport/{ex,im}porters/content.py).
TOTAL = re.compile(r"^(?:Exporting (\d+)|Importing (\d+) content items)$")
DONE = re.compile(r"^(?:Content Exporter: Handled (\d+) items|(\d{7}) - )")
# Seconds between two progress lines.
PROGRESS_EVERY = 2.0
DEFAULT_PORTS = {"http": 80, "https": 443}


class MigrationError(Exception):
    """Bad input: the message says what and where; nothing was changed."""


def say(message):
    print(f"{PROGRAM}: {message}", flush=True)


class Progress(logging.Handler):
    """Items done / total and the rate, from plone.exportimport's own log lines."""

    def __init__(self, what):
        super().__init__(logging.INFO)
        self.what, self.total, self.done = what, 0, 0
        self.started = self.shown = time.monotonic()

    def emit(self, record):
        message = record.getMessage()
        total = TOTAL.match(message)
        if total:
            self.total = int(total.group(1) or total.group(2))
            say(f"{self.what}: {self.total} items")
            return
        done = DONE.match(message)
        if done:
            self.done = int(done.group(1) or done.group(2))
            if time.monotonic() - self.shown >= PROGRESS_EVERY or self.done == self.total:
                self.show()

    def rate(self):
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def show(self):
        self.shown = time.monotonic()
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        say(f"{self.what}: {self.done}/{self.total} items{share}, {self.rate():.1f} items/s")

    def __enter__(self):
        logger = logging.getLogger("plone.exportimport")
        logger.addHandler(self)
        # Its per-item lines are for this handler, not for the console or the event log.
        self.propagate, logger.propagate = logger.propagate, False
        self.level_before, logger.level = logger.level, logging.INFO
        return self

    def __exit__(self, *exc):
        logger = logging.getLogger("plone.exportimport")
        logger.removeHandler(self)
        logger.propagate, logger.level = self.propagate, self.level_before


def no_debugger():
    """A batch program never stops in pdb: undo Products.PDBDebugMode's hook on logged errors (development),
    which plone.exportimport's "user already exists" would trigger."""
    pdblogging = sys.modules.get("Products.PDBDebugMode.pdblogging")
    if pdblogging is not None:
        pdblogging.LoggerClass.error = pdblogging.orig_error


def new_folder(folder):
    """FOLDER must not hold anything: an export never mixes with another."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise MigrationError(f"{folder} exists and is not an empty folder: choose a new one")
    if not folder.parent.is_dir():
        raise MigrationError(f"{folder.parent} does not exist")


def put_in_place(staged, folder):
    """STAGED becomes FOLDER, the exporting user's alone: an export holds the users' password hashes."""
    os.chmod(staged, 0o700)
    if folder.exists():
        folder.rmdir()
    os.replace(staged, folder)


def site_of(app, site_id):
    from plone.base.interfaces import IPloneSiteRoot

    site = app.get(site_id)
    if site is None or not IPloneSiteRoot.providedBy(site):
        raise MigrationError(f"/{site_id} is not a Plone site in this database (run bin/create-site first)")
    return site


# Export


def export_local(app, site_id, folder):
    from plone.exportimport.exporters import get_exporter
    from zope.component import hooks

    site = site_of(app, site_id)
    staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with Progress("export") as progress, hooks.site(site):
            get_exporter(site).export_site(staged)
        progress.done = progress.total
        progress.show()
        transaction.abort()  # an export changes nothing
        put_in_place(staged, folder)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return progress


def origin(url):
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(parts.scheme.lower())


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url, plain_http):
    """A URL the password may go to: HTTPS, or plain HTTP to this machine, or plain HTTP when the operator says so."""
    scheme, host, _ = origin(url)
    if scheme not in DEFAULT_PORTS or not host:
        raise MigrationError(f"--url {url} is not an http:// or https:// URL with a host")
    if scheme == "http" and not is_loopback(host) and not plain_http:
        raise MigrationError(f"--url {url} would send {host} the password in the clear (plain HTTP to another "
                             "machine): use https://, or add --plain-http if the network between is yours")


class CredentialsStayWithTheirOrigin(urllib.request.HTTPRedirectHandler):
    """A redirect keeps the Authorization header only to the same scheme, host and port (or the same host's
    HTTPS): never to another host, never down to plain HTTP."""

    def redirect_request(self, request, stream, code, message, headers, new_url):
        redirected = super().redirect_request(request, stream, code, message, headers, new_url)
        if redirected is not None:
            before, after = origin(request.full_url), origin(new_url)
            upgraded = before[:2] == ("http", after[1]) and after[0] == "https"
            if after != before and not upgraded:
                redirected.remove_header("Authorization")
                say(f"export: redirected to {new_url}, another origin: the credentials are not sent there")
        return redirected


def export_remote(url, user, password, folder):
    """POST URL/@export (plone.exportimport's REST service): a zip of the whole export."""
    request = urllib.request.Request(url.rstrip("/") + "/@export", data=b"", method="POST", headers={
        "Accept": "application/json",
        "Authorization": "Basic " + b64encode(f"{user}:{password}".encode()).decode(),
    })
    opener = urllib.request.build_opener(CredentialsStayWithTheirOrigin)
    try:
        response = opener.open(request, timeout=3600)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise MigrationError(f"{url} refused {user}'s credentials (HTTP {error.code}): an export needs a "
                                 "Manager of that site") from None
        if error.code in (404, 405):
            raise MigrationError(f"{url} has no @export (HTTP {error.code}): not a Plone 6 site with "
                                 "plone.exportimport") from None
        raise MigrationError(f"{url}/@export failed: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise MigrationError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None
    kind = response.headers.get("Content-Type", "")
    if not kind.startswith("application/zip"):
        raise MigrationError(f"{url}/@export answered {kind or 'no content type'}, not a zip: not a Plone 6 "
                             "site with plone.exportimport")
    staged = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        archive = staged / "export.zip"
        received, started, shown = 0, time.monotonic(), 0.0
        with response, open(archive, "wb") as stream:
            while chunk := response.read(1 << 20):
                stream.write(chunk)
                received += len(chunk)
                if time.monotonic() - shown >= PROGRESS_EVERY:
                    shown = time.monotonic()
                    rate = received / max(shown - started, 1e-9) / 1e6
                    say(f"export: {received / 1e6:.1f} MB received, {rate:.1f} MB/s")
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staged / "unpacked")  # zipfile drops absolute paths and ".." parts
        archive.unlink()
        unpacked = staged / "unpacked"
        # The zip may hold the export in a folder of its own.
        inner = [entry for entry in unpacked.iterdir()]
        root = inner[0] if len(inner) == 1 and inner[0].is_dir() else unpacked
        if not (root / METADATA).is_file():
            raise MigrationError(f"{url}/@export's zip holds no {METADATA}: not plone.exportimport's export")
        put_in_place(root, folder)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    say(f"export: {received / 1e6:.1f} MB from {url}")


# Import


def items_of(folder):
    """[(path, type, UID)] of the export in FOLDER; MigrationError when it is not one."""
    try:
        return read_items(folder)
    except PermissionError as error:
        raise MigrationError(f"{error.filename} cannot be read by this user: give the export to the user who "
                             "imports (chown -R)") from None


def read_items(folder):
    metadata_path = folder / METADATA
    if not folder.is_dir():
        raise MigrationError(f"{folder} does not exist")
    try:
        metadata = json.loads(metadata_path.read_text())
        files = metadata["_data_files_"]
    except FileNotFoundError:
        raise MigrationError(f"{folder} is not an export of bin/migrate (no {METADATA})") from None
    except (ValueError, KeyError, TypeError) as error:
        raise MigrationError(f"{metadata_path} is not plone.exportimport's metadata: {error}") from None
    items, outside = [], [f"link {link}" for link in confined.links_outside(folder)]
    for name in files:
        path = folder / "content" / name
        if confined.leads_outside(folder, name):
            outside.append(f"data file {name}")
            continue
        try:
            data = json.loads(path.read_text())
            items.append((data["@id"], data["@type"], data.get("UID", "")))
        except (FileNotFoundError, ValueError, KeyError, TypeError) as error:
            raise MigrationError(f"{path}: not an exported item ({error})") from None
        outside += confined.item_escapes(folder, data["@id"], data)
    if outside:
        raise MigrationError(f"{folder}: {confined.describe(outside)}")
    return items


def unknown_types(site, items):
    """{type: [path, ...]} of the items whose type this site does not have."""
    known = set(site.portal_types.objectIds())
    unknown = {}
    for path, kind, _ in items:
        if kind != "Plone Site" and kind not in known:
            unknown.setdefault(kind, []).append(path)
    return unknown


def source_prefix(redirects, item_paths):
    """The exported site's physical path: plone.exportimport writes redirects with it (/Old/a -> /Old/b) and
    content paths without it (/b). Read off the redirects whose target is an exported item."""
    found = {}
    for target in redirects.values():
        for path in item_paths:
            if path != "/" and target.endswith(path) and len(target) > len(path):
                prefix = target[: -len(path)]
                found[prefix] = found.get(prefix, 0) + 1
    if found:
        return max(found, key=found.get)
    firsts = {"/" + path.split("/")[1] for path in [*redirects, *redirects.values()] if path.count("/") > 1}
    return firsts.pop() if len(firsts) == 1 else None


def moved_redirects(folder, items, site_path):
    """The export's redirects with the exported site's path replaced by this site's ({} when it has none)."""
    try:
        redirects = json.loads((folder / "redirects.json").read_text())
    except FileNotFoundError:
        return {}
    prefix = source_prefix(redirects, {path for path, _, _ in items})
    if prefix is None or prefix == site_path:
        return redirects

    def moved(path):
        return site_path + path[len(prefix):] if path == prefix or path.startswith(prefix + "/") else path

    return {moved(old): moved(new) for old, new in redirects.items()}


def principals(site):
    acl = site.acl_users
    return set(acl.source_users.getUserIds()), set(acl.source_groups.getGroupIds())


def import_local(app, site_id, folder):
    from plone.exportimport.importers import get_importer
    from plone.exportimport.utils.redirects import set_redirects
    from zope.component import hooks

    items = items_of(folder)
    site = site_of(app, site_id)
    unknown = unknown_types(site, items)
    if unknown:
        listing = "; ".join(f"{kind} ({len(paths)}: {', '.join(paths[:3])}{', ...' if len(paths) > 3 else ''})"
                            for kind, paths in sorted(unknown.items()))
        raise MigrationError(f"{folder}: types this site does not have: {listing}. Install the add-on that "
                             "brings them first")
    catalog = site.portal_catalog
    everything = {"path": "/".join(site.getPhysicalPath())}  # an empty query finds nothing
    before = {brain.UID for brain in catalog.unrestrictedSearchResults(**everything)}
    users_before, groups_before = principals(site)
    started = time.monotonic()
    with Progress("import"), hooks.site(site):
        importer = get_importer(site)
        # Redirects are imported here, moved to this site's path (the library keeps the exported site's).
        importer.importers.pop("plone.importer.redirects", None)
        importer.import_site(folder)
        set_redirects(moved_redirects(folder, items, "/".join(site.getPhysicalPath())))
        dropped = sorted(importer.importers["plone.importer.content"].dropped)
        incomplete = importer.incomplete
    transaction.get().note(f"bin/migrate import {folder}")
    transaction.commit()
    seconds = time.monotonic() - started
    uids = {uid for _, kind, uid in items if kind != "Plone Site"}
    after = {brain.UID for brain in catalog.unrestrictedSearchResults(**everything)}
    users_after, groups_after = principals(site)
    new = len((uids & after) - before)
    say(f"imported {len(items)} items in {seconds:.1f} s ({len(items) / max(seconds, 1e-9):.1f} items/s): "
        f"{new} new, {len(items) - new - len(dropped)} updated, {len(dropped)} dropped, "
        f"{len(incomplete)} incomplete; users {len(users_after)} ({len(users_after - users_before)} new), "
        f"groups {len(groups_after)} ({len(groups_after - groups_before)} new)")
    for path in dropped:
        say(f"dropped (its container is missing): {path}")
    for path, fields in sorted(incomplete.items()):
        say(f"incomplete: {path}: {', '.join(fields) or 'see the event log'}")
    return bool(dropped or incomplete)


def main(zope_conf, site_id, run_as="", argv=None):
    parser = argparse.ArgumentParser(
        prog="migrate", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n")[1],
        epilog=f"The password of --user comes from ${PASSWORD_VARIABLE}, else it is asked for (never an "
               "argument: other local users see the command line).")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="export a site into FOLDER (a new or empty folder)")
    export.add_argument("folder", type=Path)
    export.add_argument("--url", help="a running Plone 6 site (its URL), instead of this build's database")
    export.add_argument("--user", help="a Manager of the site at --url")
    export.add_argument("--plain-http", action="store_true",
                        help="allow an http:// --url on another machine (the password crosses the network "
                             "readable); https:// and this machine's own addresses need no flag")
    imported = commands.add_parser("import", help="import FOLDER into this build's site")
    imported.add_argument("folder", type=Path)
    parser.add_argument("--site-id", default=site_id, help="this build's site (default: %(default)s)")
    parser.add_argument("--zope-conf", default=zope_conf, help="this build's instance's zope.conf")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    folder = args.folder.absolute()
    try:
        if args.command == "export" and args.url:
            if not args.user:
                parser.error("--url needs --user")
            check_url(args.url, args.plain_http)
            new_folder(folder)
            password = os.environ.get(PASSWORD_VARIABLE) or getpass.getpass(f"{args.user}'s password: ")
            export_remote(args.url, args.user, password, folder)
            return 0
        if args.command == "export":
            new_folder(folder)
        else:
            items_of(folder)  # before opening the database: a wrong folder fails at once
        require_user(run_as, PROGRAM)
        say(f"opening the database of {args.zope_conf}")
        # plone.exportimport's own way in: the request its serializers need (REST API layer, PARENTS).
        from plone.exportimport.utils.cli import get_app

        app = get_app(args.zope_conf)
        no_debugger()
        try:
            if args.command == "export":
                progress = export_local(app, args.site_id, folder)
                say(f"exported {progress.total} items of /{args.site_id} into {folder}")
                return 0
            failed = import_local(app, args.site_id, folder)
            return 1 if failed else 0
        finally:
            transaction.abort()
            app._p_jar.close()
    except MigrationError as error:
        raise SystemExit(f"{PROGRAM}: {error}; nothing was changed") from None
