"""``bootstrap.py``: help, hostname table, refusing an unknown file, a second run that does nothing."""

import importlib.util
import os
import time

import pytest

from conftest import PRODUCTION_FILES, PYTHON, repo_path, run


def load_bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap", repo_path("bootstrap.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_explains_it():
    output = run([PYTHON, "bootstrap.py", "--help"]).stdout
    assert "-c FILE" in output and "--build" in output and "hostname" in output


@pytest.mark.parametrize("hostname, expected", [
    ("web-1", "prod-web-1.cfg"),
    ("web-1.surge.internal", "prod-web-1.cfg"),
    ("app-2", "prod-app-slave.cfg"),
    ("app-1.example.net", "prod-app-master.cfg"),
    ("laptop", "buildout.cfg"),
])
def test_hostname_picks_the_top_level_file(hostname, expected):
    assert load_bootstrap().config_for_host(hostname) == expected


def test_every_production_file_has_a_host():
    assert sorted(set(load_bootstrap().servers().values())) == sorted(PRODUCTION_FILES)


def test_a_server_added_to_the_topology_is_picked_by_its_hostname(tmp_path):
    base = tmp_path / "base.cfg"
    text = open(repo_path("buildout.d", "base.cfg")).read()
    text = text.replace("app-servers = app-master app-slave", "app-servers = app-master app-slave app-3")
    base.write_text(text.replace("[hosts]\n", "[hosts]\napp-3 = app-3.surge.internal\n", 1))
    bootstrap = load_bootstrap()
    assert bootstrap.config_for_host("app-3", bootstrap.servers(str(base))) == "prod-app-3.cfg"
    assert bootstrap.config_for_host("app-3", bootstrap.servers()) == "buildout.cfg"


def test_every_mapped_file_exists():
    for config in load_bootstrap().servers().values():
        assert os.path.exists(repo_path(config))


def test_unknown_file_is_refused():
    result = run([PYTHON, "bootstrap.py", "-c", "nonexistent.cfg"], check=False)
    assert result.returncode == 2 and "nonexistent.cfg does not exist" in result.stdout


def test_an_unknown_fragment_is_named_before_anything_is_built():
    bootstrap = load_bootstrap()
    bootstrap.HERE = repo_path()
    name = "test-unknown-fragment.cfg"
    with open(repo_path(name), "w") as stream:
        stream.write("[buildout]\nextends = prod-web-1.cfg\n    buildout.d/nosuch.cfg\n")
    try:
        assert bootstrap.missing_extends(name) == [
            f"{name}: [buildout] extends names buildout.d/nosuch.cfg, which does not exist "
            "(the fragments are in buildout.d/)"]
        result = run([PYTHON, "bootstrap.py", "-c", name], check=False)
        assert result.returncode == 2 and "extends names buildout.d/nosuch.cfg" in result.stdout
    finally:
        os.remove(repo_path(name))
    assert all(bootstrap.missing_extends(config) == [] for config in PRODUCTION_FILES + ["buildout.cfg"])


def test_second_run_does_nothing_quickly():
    run([PYTHON, "bootstrap.py"])
    started = time.monotonic()
    output = run([PYTHON, "bootstrap.py"]).stdout
    assert "nothing to do" in output
    print(f"second bootstrap run took {time.monotonic() - started:.2f} s")


def test_pip_comes_from_pypi_where_ensurepip_is_missing(tmp_path):
    """Debian without python3-venv has venv but no ensurepip."""
    bootstrap = load_bootstrap()
    pip_version = bootstrap.read_versions()["pip"]
    environment = tmp_path / "venv"
    run([PYTHON, "-m", "venv", "--without-pip", str(environment)])
    python = str(environment / "bin" / "python")
    bootstrap.install_pip_from_pypi(python, pip_version)
    assert f"pip {pip_version} " in run([python, "-m", "pip", "--version"]).stdout
