"""The site's ``@import`` (plone.exportimport's REST service) with the export checked before anything changes:
no blob path or link may lead outside it (surge.policy.confined). Registered for the policy's layer, so it
takes the place of plone.exportimport's own where the policy is installed."""

import shutil
from io import BytesIO

from plone import api
from plone.exportimport.importers import get_importer
from plone.exportimport.utils import zip_utils
from plone.restapi.services import Service

from surge.policy import confined


class ImportService(Service):
    def reply(self):
        uploaded = self.request.form.get("file")
        if not hasattr(uploaded, "read"):
            self.request.response.setStatus(400)
            return {"error": "No file provided"}
        folder = zip_utils.import_from_zip(BytesIO(uploaded.read()))
        try:
            found = confined.escapes(folder) if (folder / confined.METADATA).is_file() else []
            if found:
                self.request.response.setStatus(400)
                return {"error": confined.describe(found)}
            return {"status": "success", "report": get_importer(api.portal.get()).import_site(folder)}
        finally:
            shutil.rmtree(folder)
