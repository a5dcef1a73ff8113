"""``:bench:`PATH``` and ``:bench-ratio:`PATH over PATH```: a figure of the latest ``bin/bench`` run in prose.

``:bench:`PATH|%``` shows a share as a percentage.

PATH names a value of docs/bench/figures.json by its keys joined with ``/``
(``failover/saves, synchronous replication/p95``), so a sentence quotes the
same number as the tables bin/bench writes, and a figure that is no longer
measured fails the docs build instead of staying in the text. A ratio is
computed here from its two named figures.
"""

import json
import os

from docutils import nodes
from sphinx.util.docutils import SphinxRole


def figures(env):
    path = os.path.join(env.config.fragment_settings_root, "docs", "bench", "figures.json")
    env.note_dependency(path)
    with open(path) as stream:
        return json.load(stream)


def lookup(data, path):
    value = data
    for key in path.split("/"):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(f"docs/bench/figures.json has no {path!r} (no {key!r})")
        value = value[key]
    return value


def formatted(value):
    """Thousands for big figures, a decimal or two for small ones."""
    if isinstance(value, str):
        return value
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def key_path(text):
    """The role's text as one line: a path may be wrapped like any prose."""
    return " ".join(text.split()).replace("/ ", "/").replace(" /", "/")


class Figure(SphinxRole):
    def run(self):
        text, _, spec = key_path(self.text).partition("|")
        try:
            if self.name == "bench-ratio":
                over, _, under = text.partition(" over ")
                data = figures(self.env)
                text = formatted(lookup(data, over.strip()) / lookup(data, under.strip()))
            else:
                value = lookup(figures(self.env), text)
                text = f"{value * 100:.0f}%" if spec == "%" else formatted(value)
        except (KeyError, TypeError, ZeroDivisionError) as error:
            message = self.inliner.reporter.error(f":{self.name}:`{self.text}`: {error}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, message)], [message]
        return [nodes.strong(self.rawtext, text)], []


def setup(app):
    app.add_role("bench", Figure())
    app.add_role("bench-ratio", Figure())
    return {"parallel_read_safe": True, "version": "1.0"}
