"""An export's files stay inside the export.

plone.exportimport joins each file field's ``blob_path`` with the export's
content folder and reads what it finds: an absolute path or ``..`` in an
export (from a compromised source site, or posted to ``@import``), or a
symbolic link in the folder, would publish any file the instances' user can
read (``zope.conf``, ``wsgi.ini``) as a File of the site. bin/migrate import
and the site's ``@import`` read the whole export first and refuse it, before
anything changes, when any item's blob path or any link leads outside.
"""

import json
import os
import unicodedata
from pathlib import Path

METADATA = Path("content") / "__metadata__.json"


def blob_paths(value):
    """Every ``blob_path`` in an item's data, at any depth."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "blob_path" and isinstance(inner, str):
                yield inner
            else:
                yield from blob_paths(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from blob_paths(inner)


def leads_outside(root, path):
    """True when PATH, as plone.exportimport joins it with ROOT/content (in either Unicode form), resolves
    outside ROOT (symbolic links followed)."""
    resolved_root = root.resolve()
    return any(not (root / "content" / form).resolve().is_relative_to(resolved_root)
               for form in {path, unicodedata.normalize("NFC", path)})


def links_outside(root):
    """The symbolic links under ROOT whose target is outside it, relative to ROOT."""
    resolved_root = root.resolve()
    found = []
    for parent, directories, files in os.walk(root):
        for name in directories + files:
            path = Path(parent) / name
            if path.is_symlink() and not path.resolve().is_relative_to(resolved_root):
                found.append(str(path.relative_to(root)))
    return sorted(found)


def item_escapes(root, path, data):
    """['ITEM: blob PATH'] of the item at PATH whose blob paths lead outside ROOT."""
    return [f"{path}: blob {blob}" for blob in blob_paths(data) if leads_outside(root, blob)]


def escapes(root):
    """['what: path'] of everything in the export at ROOT that leads outside it; [] when nothing does."""
    found = [f"link {link}" for link in links_outside(root)]
    for name in json.loads((root / METADATA).read_text()).get("_data_files_", []):
        if leads_outside(root, name):
            found.append(f"data file {name}")
        else:
            data = json.loads((root / "content" / name).read_text())
            found += item_escapes(root, data.get("@id", name), data)
    return found


def describe(found):
    """The refusal's message: what leads outside, the first ten."""
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return "leads outside the export (refused, it would publish that file): " + "; ".join(found[:10]) + more
