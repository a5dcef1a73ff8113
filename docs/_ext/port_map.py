"""``.. port-map::``: what every server listens on, read from the configuration.

Each top-level file is loaded by zc.buildout itself (extends, ``+=``,
substitutions), without extensions, and its ``[listen]`` section
becomes rows of one table: server file, service, address, ports and the
fragment that adds the entry. Nothing is typed by hand, so the table cannot
drift from what the build checks for collisions.
"""

import contextlib
import glob
import logging
import os

from docutils.parsers.rst import Directive
from rst_tables import list_table

TOP_LEVEL = ["buildout.cfg", "prod-web-1.cfg", "prod-web-2.cfg", "prod-app-master.cfg", "prod-app-slave.cfg"]


@contextlib.contextmanager
def logging_left_alone():
    """zc.buildout sets up its own logging to stdout; keep Sphinx's as it was."""
    loggers = [logging.getLogger(), logging.getLogger("zc.buildout")]
    saved = [(logger, list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    try:
        yield
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def load(root, filename, overrides=()):
    """The top-level file as zc.buildout reads it, without extensions."""
    from zc.buildout.buildout import Buildout

    # Not offline: zc.buildout 5 offline finds no egg of its own eggs directory
    # (they hold dist-info, which its path scan skips); with every egg already
    # there, nothing is fetched.
    overrides = [("buildout", "newest", "false"), ("buildout", "extensions", ""),
                 ("buildout", "directory", root), ("buildout", "log-level", "WARNING"), *overrides]
    return Buildout(os.path.join(root, filename), overrides)


def listen_entries(root, filename):
    """[(service, host, ports, origin)] of the top-level file's [listen]."""
    with logging_left_alone():
        # Computed sections ([roles]) load their recipe from the eggs the
        # development build installed (a production file names eggs of its own).
        # zc.buildout 5 appends "v5" to the directory it is given.
        eggs = os.path.dirname(load(root, "buildout.cfg")["buildout"]["eggs-directory"])
        buildout = load(root, filename, [("buildout", "eggs-directory", eggs)])
        listen = buildout["listen"]
        rows = []
        for key in listen:
            host, _, ports = listen[key].rpartition(":")
            first, _, count = ports.partition("+")
            if count:
                ports = f"{first}-{int(first) + int(count) - 1}"
            origin = os.path.relpath(buildout._annotated["listen"][key].source, root)
            rows.append((key, host, ports, origin))
    return rows


class PortMap(Directive):
    def run(self):
        root = self.state.document.settings.env.config.fragment_settings_root
        env = self.state.document.settings.env
        for path in glob.glob(os.path.join(root, "*.cfg")) + glob.glob(os.path.join(root, "buildout.d", "*.cfg")):
            env.note_dependency(path)
        rows = [[f"``{filename}``", service, f"``{host}``", ports, f"``{origin}``"]
                for filename in TOP_LEVEL for service, host, ports, origin in listen_entries(root, filename)]
        return list_table(self, "port-map", (20, 18, 27, 15, 20),
                          ["Server", "Service", "Address", "Port", "Added by"], rows)


def setup(app):
    app.add_directive("port-map", PortMap)
    return {"parallel_read_safe": True, "version": "1.0"}
