"""Sphinx configuration of the Surge documentation (built by bin/docs, warnings are errors)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "Surge"
author = "The Surge team"
copyright = "2026, The Surge team"
extensions = ["bench_figures", "cluster_servers", "environments", "fragment_settings", "log_views", "port_map", "program_order",
              "secret_servers", "test_modules"]
# Fragment paths in ".. fragment-settings::" are relative to the repository.
fragment_settings_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
exclude_patterns = ["_build"]
# Furo: responsive, and a table wider than the text scrolls inside its own box
# instead of running off the page (the benchmark and port tables).
html_theme = "furo"
html_title = "Surge: one buildout for every server of a Plone site built for spikes"
html_static_path = []
