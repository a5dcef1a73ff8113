"""The layout rules: top-level files only extend and set values, each parses and every part has a recipe,
fragments carry banners, never extend base.cfg nor reset ``parts``, defaults have comments, the README starts
with the two commands and ``.ci/run`` runs the test command.
"""

import configparser
import glob
import os
import re
import sys

import pytest
import zc.buildout.buildout

from conftest import REPO, TOP_LEVEL_FILES, repo_path

sys.path.insert(0, repo_path("docs", "_ext"))

FRAGMENTS = sorted(glob.glob(repo_path("buildout.d", "*.cfg")))
TEMPLATES = sorted(glob.glob(repo_path("buildout.d", "templates", "*")))
VALUE_SECTIONS = {"hosts", "ports", "users"}


def read_config(path):
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


def fragment_id(path):
    return os.path.basename(path)


@pytest.mark.parametrize("name", TOP_LEVEL_FILES)
def test_top_level_file_only_extends_and_sets_values(name):
    config = read_config(repo_path(name))
    assert config.options("buildout") == ["extends"], f"{name}: [buildout] may only hold extends"
    with_recipe = [section for section in config.sections() if config.has_option(section, "recipe")]
    assert not with_recipe, f"{name}: sections with recipes {with_recipe}; top-level files only set values"


def flattened_extends(name):
    """The files a top-level file extends, in order, a twin top-level file expanded."""
    files = []
    for extended in read_config(repo_path(name)).get("buildout", "extends").split():
        files.extend(flattened_extends(extended) if extended in TOP_LEVEL_FILES else [extended])
    return files


@pytest.mark.parametrize("name", TOP_LEVEL_FILES)
def test_top_level_file_extends_base_first(name):
    assert flattened_extends(name)[0] == "buildout.d/base.cfg"


LIST_SETTERS = {"programs": "buildout.d/supervisor.cfg", "files": "buildout.d/rsyslog.cfg",
                "plugins": "buildout.d/munin-node.cfg"}


def adders_of(name, key):
    """The files NAME extends that add to the list KEY (``KEY +=``)."""
    return [f for f in flattened_extends(name) if re.search(rf"^{key} \+=", open(repo_path(f)).read(), re.M)]


# Only the files and lists where something is added: a case without an adder would assert nothing.
@pytest.mark.parametrize("name, key", [(name, key) for name in TOP_LEVEL_FILES for key in LIST_SETTERS
                                       if adders_of(name, key)])
def test_lists_are_added_to_after_the_fragment_that_sets_them(name, key):
    files = flattened_extends(name)
    for adder in adders_of(name, key):
        assert LIST_SETTERS[key] in files[:files.index(adder)], f"{adder} comes before {LIST_SETTERS[key]}"


@pytest.mark.parametrize("name", TOP_LEVEL_FILES)
def test_top_level_file_parses_and_every_part_has_a_recipe(name, monkeypatch):
    monkeypatch.chdir(REPO)
    buildout = zc.buildout.buildout.Buildout(repo_path(name), [])
    parts = buildout._raw["buildout"]["parts"].split()
    assert parts[:2] == ["checks", "secrets-file"], "the checks and the secrets file must come first"
    for part in parts:
        assert "recipe" in buildout._raw.get(part, {}), f"{name}: part {part} has no section with a recipe"


@pytest.mark.parametrize("path", FRAGMENTS, ids=fragment_id)
def test_fragment_has_a_banner(path):
    with open(path) as stream:
        text = stream.read()
    head = text.lstrip().splitlines()[:3]
    assert all(line.startswith("#") for line in head), "a fragment opens with its banner"
    banner = text.split("\n[", 1)[0]
    for word in ("Requires:", "Reads:", "Defines:"):
        assert word in banner, f"the banner says what it {word.lower().rstrip(':')}"


@pytest.mark.parametrize("path", FRAGMENTS, ids=fragment_id)
def test_fragment_never_extends_base(path):
    config = read_config(path)
    extends = config.get("buildout", "extends", fallback="")
    assert "base.cfg" not in extends, "re-extending base.cfg drops the parts of earlier fragments"


@pytest.mark.parametrize("path", [p for p in FRAGMENTS if not p.endswith("base.cfg")], ids=fragment_id)
def test_fragment_adds_parts_and_never_resets_them(path):
    text = open(path).read()
    assert not re.search(r"^parts\s*=", text, re.M), "a fragment adds itself with parts +="


@pytest.mark.parametrize("path", [p for p in FRAGMENTS if not p.endswith("base.cfg")], ids=fragment_id)
def test_fragment_never_sets_shared_defaults(path):
    config = read_config(path)
    for section in VALUE_SECTIONS & set(config.sections()):
        assert not config.options(section), f"[{section}] defaults live in buildout.d/base.cfg only"


@pytest.mark.parametrize("name", sorted(VALUE_SECTIONS))
def test_every_default_has_a_comment(name):
    lines = open(repo_path("buildout.d", "base.cfg")).read().split(f"\n[{name}]\n", 1)[1].split("\n[", 1)[0]
    previous = ""
    for line in lines.splitlines():
        if re.match(r"^[\w.-]+\s*=", line):
            assert previous.startswith("#"), f"[{name}] {line.split('=')[0].strip()} has no comment"
        previous = line


@pytest.mark.parametrize("path", TEMPLATES, ids=fragment_id)
def test_template_names_no_site(path):
    assert "example.org" not in open(path).read(), "sites belong in [hosts], not in templates"


def readme_commands():
    """The first two lines of the README's literal blocks: site, then tests."""
    text = open(repo_path("README.rst")).read()
    blocks = re.findall(r"::\n\n((?:    .*\n|\n)+)", text)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    return lines[:2]


def test_readme_starts_with_the_site_command_then_the_test_command():
    site, tests = readme_commands()
    assert site.startswith("python3 bootstrap.py") and "bin/instance fg" in site
    assert "bin/pytest" in tests


def test_ci_runs_the_readme_test_command():
    _, tests = readme_commands()
    assert tests in open(repo_path(".ci", "run")).read()


def settings_sections(path):
    return [section for section in read_config(path).sections() if section.endswith("-settings")]


@pytest.mark.parametrize("path", FRAGMENTS, ids=fragment_id)
def test_every_setting_has_a_reason(path):
    from fragment_settings import read_settings

    for section in settings_sections(path):
        for key, _default, reason in read_settings(path, section):
            assert reason, f"[{section}] {key} has no comment giving the reason for its default"


@pytest.mark.parametrize("path", [p for p in FRAGMENTS if settings_sections(p)], ids=fragment_id)
def test_every_settings_section_is_documented(path):
    relative = os.path.relpath(path, REPO)
    docs = "".join(open(page).read() for page in glob.glob(repo_path("docs", "**", "*.rst"), recursive=True))
    for section in settings_sections(path):
        assert f".. fragment-settings:: {relative} {section}" in docs, f"[{section}] has no table in docs/"


def test_jenkinsfile_runs_the_commands_of_the_readme_test_command():
    """Its stages split the README's test command; together they run all of it, and the docs."""
    _, tests = readme_commands()
    jenkinsfile = open(repo_path("Jenkinsfile")).read()
    assert ".ci/install" in jenkinsfile
    for command in tests.split(" && "):
        assert command in jenkinsfile, command
    assert 'bin/pytest -m "not slow"' in jenkinsfile and "bin/pytest -m slow" in jenkinsfile
    assert "bin/docs" in jenkinsfile


def test_jenkinsfile_builds_each_commit_keeps_going_after_a_failed_stage_and_publishes():
    jenkinsfile = open(repo_path("Jenkinsfile")).read()
    assert re.search(r"triggers \{\s*pollSCM\('H/\d+ \* \* \* \*'\)\s*\}", jenkinsfile)
    for command in ('bin/pytest -m "not slow"', "bin/pytest -m slow", "bin/docs"):
        assert re.search(r"catchError\([^)]*\) \{\s*sh '" + re.escape(command), jenkinsfile), command
    assert "sh '.ci/publish'" in jenkinsfile and "env.SURGE_DOCS_TARGET" in jenkinsfile
