"""One road per value: a fragment's banner says what it reads, no part relays a
setting under its own name, templates read only their part, its settings and
what its recipe derives, and every settings key has a type."""

import glob
import os
import re

import pytest
import zc.buildout.buildout

from conftest import TOP_LEVEL_FILES, repo_path

FRAGMENTS = sorted(glob.glob(repo_path("buildout.d", "*.cfg")))
TEMPLATES = sorted(glob.glob(repo_path("buildout.d", "templates", "*.j2")))
# The shared sections a banner's Reads: line accounts for.
SHARED = ("hosts", "ports", "users", "settings", "topology", "listen", "secrets")
REFERENCE = re.compile(r"\$\{(%s):([\w.-]+)\}" % "|".join(SHARED))
SECRET_OPTION = re.compile(r"^secrets\s*=(.*(?:\n[ \t]+\S.*)*)", re.M)
SECRET_PLACEHOLDER = re.compile(r"\{secret:([\w-]+)\}")
RELAY = re.compile(r"^\s*([a-z0-9-]+)\s*=\s*\$\{[a-z0-9.-]+-settings:\1\}\s*$", re.M)


def banner_reads(text):
    """{section: {keys}} from the banner's 'Reads:' sentence ('[hosts] server local, [ports] varnish, ...')."""
    banner = "\n".join(line.lstrip("# ") for line in text.split("\n[", 1)[0].splitlines() if line.startswith("#"))
    match = re.search(r"Reads:(.*?)(?:\n\S+:|\Z)", banner, re.S)
    said = {}
    if not match or match.group(1).strip().rstrip(".") == "nothing":
        return said
    # Parentheses explain ("(keys of [hosts])"); they name nothing read.
    for section, words in re.findall(r"\[([\w-]+)\]([^\[]*)", re.sub(r"\([^)]*\)", "", match.group(1))):
        said.setdefault(section, set()).update(re.findall(r"[\w.-]+", words.replace(",", " ").replace(".", " ")))
    return said


def referenced(text):
    """{section: {keys}} this fragment refers to in the shared sections (the test leaves out its own keys).
    A secret is read by name: a part's ``secrets = NAME ...`` or ``{secret:NAME}`` in an option."""
    found = {}
    for section, key in REFERENCE.findall(text):
        found.setdefault(section, set()).add(key)
    for names in SECRET_OPTION.findall(text):
        found.setdefault("secrets", set()).update(names.split())
    for name in SECRET_PLACEHOLDER.findall(text):
        found.setdefault("secrets", set()).add(name)
    return found


def defined(text, section):
    block = re.search(rf"^\[{section}\]\n((?:(?!\[).*\n?)*)", text, re.M)
    return set(re.findall(r"^([\w.-]+)\s*\+?=", block.group(1), re.M)) if block else set()


@pytest.mark.parametrize("path", FRAGMENTS, ids=os.path.basename)
def test_banner_reads_what_the_fragment_reads(path):
    text = open(path).read()
    said = banner_reads(text)
    found = referenced(text)
    for section in SHARED:
        keys = found.get(section, set()) - defined(text, section)
        assert keys == said.get(section, set()), (
            f"the banner's Reads: says [{section}] {sorted(said.get(section, set()))}, "
            f"the fragment reads {sorted(keys)}")


@pytest.mark.parametrize("path", FRAGMENTS, ids=os.path.basename)
def test_no_part_relays_a_setting_under_its_own_name(path):
    assert RELAY.findall(open(path).read()) == []


@pytest.mark.parametrize("path", TEMPLATES, ids=os.path.basename)
def test_template_reads_nothing_global(path):
    text = open(path).read()
    assert not re.search(r"\{[{%][^}]*\b(hosts|ports|users|section)\s*[.\[(]", text), \
        "a template reads its part's options, its settings and its recipe's values only"


@pytest.mark.parametrize("name", TOP_LEVEL_FILES)
def test_every_key_of_every_settings_section_has_a_type(name):
    from surge.buildout.schemas import SCHEMAS, is_settings_section

    config = zc.buildout.buildout.Buildout(repo_path(name), [])
    sections = [section for section in config._raw if is_settings_section(section)]
    assert sections
    for section in sections:
        assert section in SCHEMAS, f"[{section}] has no schema"
        unknown = set(config._raw[section]) - set(SCHEMAS[section].keys)
        assert not unknown, f"[{section}] {sorted(unknown)} have no type"
