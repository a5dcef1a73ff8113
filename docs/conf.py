"""Sphinx configuration of the Surge documentation (built by bin/docs, warnings are errors)."""

project = "Surge"
author = "The Surge team"
copyright = "2026, The Surge team"
extensions = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "One buildout for every server of a Plone site built for spikes."}
html_static_path = []
