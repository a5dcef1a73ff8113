"""The site's @import refuses an export in which a blob path leads outside it (an absolute path, "..", in
either Unicode form), before anything changes; the same export without it imports (the control)."""

import base64
import io
import json
import shutil
import unittest
import zipfile

import transaction
from plone.app.testing import SITE_OWNER_NAME, SITE_OWNER_PASSWORD
from plone.exportimport.exporters import get_exporter
from plone.exportimport.utils import zip_utils
from plone.testing.zope import Browser

from surge.policy.testing import SURGE_POLICY_FUNCTIONAL_TESTING

BOUNDARY = "surge-import-boundary"
HOSTILE = ("/etc/hostname", "../../../../../../etc/hostname", "../__metadata__.json/../../../etc/hostname")


def exported(portal):
    """{archive name: bytes} of the site's own export."""
    folder = get_exporter(portal).export_site()[0]
    try:
        with zipfile.ZipFile(zip_utils.export_to_zip(folder)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    finally:
        shutil.rmtree(folder)


def with_blob(files, blob_path):
    """FILES with a file field pointing at BLOB_PATH added to the site root's item."""
    files = dict(files)
    metadata = json.loads(files["content/__metadata__.json"])
    name = f"content/{metadata['_data_files_'][0]}"
    data = json.loads(files[name])
    data["surge_probe"] = {"blob_path": blob_path, "filename": "x.txt", "content-type": "text/plain"}
    files[name] = json.dumps(data).encode()
    return files


def multipart(files):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="export.zip"\r\n'
            "Content-Type: application/zip\r\n\r\n").encode()
    return head + archive.getvalue() + f"\r\n--{BOUNDARY}--\r\n".encode()


class TestImportConfined(unittest.TestCase):
    layer = SURGE_POLICY_FUNCTIONAL_TESTING

    def post(self, files):
        browser = Browser(self.layer["app"])
        browser.handleErrors = False
        browser.raiseHttpErrors = False
        token = base64.b64encode(f"{SITE_OWNER_NAME}:{SITE_OWNER_PASSWORD}".encode()).decode()
        browser.addHeader("Authorization", f"Basic {token}")
        browser.addHeader("Accept", "application/json")
        browser.post(self.layer["portal"].absolute_url() + "/@import", multipart(files),
                     f"multipart/form-data; boundary={BOUNDARY}")
        return browser.headers["status"].split()[0], json.loads(browser.contents)

    def test_a_blob_path_outside_the_export_is_refused_and_nothing_changes(self):
        files = exported(self.layer["portal"])
        transaction.commit()
        for blob_path in HOSTILE:
            with self.subTest(blob_path=blob_path):
                before = self.layer["portal"].title
                status, answer = self.post(with_blob(files, blob_path))
                self.assertEqual(status, "400", answer)
                self.assertIn(f"blob {blob_path}", answer["error"])
                self.assertIn("leads outside the export", answer["error"])
                self.assertEqual(self.layer["portal"].title, before)

    def test_the_sites_own_export_imports(self):
        files = exported(self.layer["portal"])
        transaction.commit()
        status, answer = self.post(files)
        self.assertEqual((status, answer.get("status")), ("200", "success"), answer)
