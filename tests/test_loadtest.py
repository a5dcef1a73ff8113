"""The spike's phases, the edit form read as a browser submits it, nearest-rank percentiles, Locust reading the
rendered settings and refusing an unknown one, and the build refusing bad load test settings (file, section
and key named, live file kept).
"""

import argparse
import os
import shutil
import sys

import pytest

from conftest import repo_path, run
from running import SITE_URLS
from surge.loadtest.forms import find_form, same_site
from surge.loadtest.phases import phase_at, phases
from surge.loadtest.report import figures, percentile
from surge.loadtest.settings import SETTINGS, read_config, think_range

sys.path.insert(0, repo_path("docs", "_ext"))


def options(**values):
    defaults = {name.replace("-", "_"): default for name, _, default, _ in SETTINGS}
    return argparse.Namespace(**{**defaults, **values})


def test_the_spike_rises_within_the_ramp_holds_and_falls_back_then_stops():
    plan = phases(options(lull_users=10, spike_users=100, lull_seconds=60, ramp_seconds=10, spike_seconds=120,
                          after_seconds=30))
    assert [(p.name, p.start, p.end, p.users) for p in plan] == [
        ("lull", 0, 60, 10), ("ramp", 60, 70, 100), ("spike", 70, 190, 100), ("after", 190, 220, 10)]
    assert plan[1].spawn_rate == 9.0, "90 more visitors within 10 seconds"
    assert phase_at(plan, 65).name == "ramp" and phase_at(plan, 219.9).name == "after"
    assert phase_at(plan, 220) is None, "the run stops by itself"


EDIT_PAGE = """
<form action="/@@search"><input name="SearchableText" value=""></form>
<form action="https://site/desk/page/@@edit" method="post">
  <input type="hidden" name="_authenticator" value="token">
  <input type="text" name="form.widgets.IDublinCore.title" value="Old &amp; title">
  <textarea name="form.widgets.IRichTextBehavior.text">&lt;p&gt;Text&lt;/p&gt;</textarea>
  <input type="checkbox" name="form.widgets.exclude:list" value="selected">
  <input type="checkbox" name="form.widgets.versioning:list" value="selected" checked>
  <select name="form.widgets.language"><option value="de">de</option><option value="en" selected>en</option></select>
  <input type="submit" name="form.buttons.cancel" value="Cancel">
</form>
"""


def test_the_edit_form_is_read_as_a_browser_would_submit_it():
    action, fields = find_form(EDIT_PAGE, "edit")
    assert action == "https://site/desk/page/@@edit"
    assert fields == {
        "_authenticator": ["token"],
        "form.widgets.IDublinCore.title": ["Old & title"],
        "form.widgets.IRichTextBehavior.text": ["<p>Text</p>"],
        "form.widgets.versioning:list": ["selected"],
        "form.widgets.language": ["en"],
    }
    assert find_form(EDIT_PAGE, "/@@delete") == (None, None)


def test_a_visitor_follows_the_sites_links_on_the_server_it_picked():
    sites = SITE_URLS
    # Plone's absolute URLs name the public site (web-1's address in the cluster).
    assert same_site(f"{sites[0]}/desk/page/@@edit", sites) == "/desk/page/@@edit"
    assert same_site("/++theme++surge/surge.css?v=2", sites) == "/++theme++surge/surge.css?v=2"
    assert same_site("https://cdn.example.net/lib.js", sites) is None
    assert same_site("relative.css", sites) is None


def test_figures_use_nearest_rank_percentiles_of_the_successful_requests():
    assert percentile([], 50) is None
    assert percentile(list(range(1, 101)), 99) == 99 and percentile([5, 1, 3], 50) == 3
    rows = [(0.0, "member", "member: page", float(ms), False) for ms in range(1, 101)]
    rows.append((0.0, "member", "member: page", 10_000.0, True))
    assert figures(rows) == {"requests": 101, "failed": 1, "p50": 50.0, "p95": 95.0, "p99": 99.0}


@pytest.mark.parametrize("value", ["8-2", "2", "fast", "-1-3"])
def test_a_think_time_must_be_min_max_seconds(value):
    with pytest.raises(ValueError, match="anonymous-think"):
        think_range(value, "anonymous-think")


def test_locust_defaults_are_the_fragment_defaults():
    from fragment_settings import read_settings  # docs/_ext

    fragment = {key: default for key, default, _ in read_settings(
        repo_path("buildout.d", "dev-loadtest.cfg"), "loadtest-settings")}
    for name, _, default, _ in SETTINGS:
        if name in fragment and "${" not in fragment[name]:
            assert fragment[name] == str(default), f"[loadtest-settings] {name} differs from Locust's default"


def test_the_rendered_settings_are_what_locust_reads():
    config = read_config(repo_path("etc", "loadtest.conf"))
    assert config.spike_users > config.lull_users >= 1 and config.authors >= 1
    listed = run([repo_path("bin", "loadtest"), "--list"]).stdout.split()
    assert {"Anonymous", "Member", "Author"} <= set(listed)


def test_an_account_password_that_begins_with_a_dash_reaches_locust(tmp_path):
    # A random password begins with "-" one time in 64: Locust must take it as the option's value.
    from surge.buildout import secretsfile

    secretsfile.write(str(tmp_path / "accounts.cfg"), {"password": "-Dash-first-Vq7xRk9mZ2tWc8bY"}, "test",
                      section="accounts")
    script = tmp_path / "loadtest"
    script.write_text(open(repo_path("bin", "loadtest")).read().replace(
        f'output="{repo_path("var", "loadtest")}"', f'output="{tmp_path}"'))
    script.chmod(0o755)
    result = run([str(script), "--list"], check=False)
    assert result.returncode == 0 and "Member" in result.stdout, result.stdout


def test_locust_refuses_a_setting_it_does_not_know(tmp_path):
    config = tmp_path / "loadtest.conf"
    config.write_text(open(repo_path("etc", "loadtest.conf")).read() + "spike-size = 40\n")
    result = run([repo_path("bin", "loadtest"), "--config", str(config), "--list"], check=False)
    assert result.returncode != 0 and "spike-size" in result.stdout


def build_settings(directory, **settings):
    """Build only etc/loadtest.conf from dev-loadtest.cfg in DIRECTORY with SETTINGS overridden."""
    lines = ["[buildout]", f"extends = {repo_path('buildout.d', 'base.cfg')} {repo_path('packages.cfg')} "
             f"{repo_path('buildout.d', 'dev-loadtest.cfg')}",
             f"develop = {repo_path('src', 'surge.buildout')}", "parts = loadtest-config", "",
             "[releases]", "find-links =", "", "[loadtest-config]",
             f"input = {repo_path('buildout.d', 'templates', 'loadtest.conf.j2')}",
             f"check = {repo_path('bin', 'loadtest')} --config {{file}} --list", "", "[loadtest-settings]",
             *(f"{key.replace('_', '-')} = {value}" for key, value in settings.items())]
    with open(os.path.join(directory, "buildout.cfg"), "w") as stream:
        stream.write("\n".join(lines) + "\n")
    return run([repo_path("bin", "buildout"), "-N", "-c", "buildout.cfg"], cwd=directory, timeout=300, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("loadtest-build"))
    assert build_settings(directory).returncode == 0
    return directory


@pytest.mark.parametrize("setting, value, message", [
    ("spike_users", "lots", "buildout.cfg: [loadtest-settings] spike-users = 'lots' is not a whole number"),
    ("member_think", "9-3", "buildout.cfg: [loadtest-settings] member-think = '9-3' is not MIN-MAX seconds"),
    ("sites", "web-1:8443", "buildout.cfg: [loadtest-settings] sites = 'web-1:8443' has 'web-1:8443', which is not "
     "a http or https URL"),
    ("authors", "0", "buildout.cfg: [loadtest-settings] authors = '0' is out of range: a whole number from 1"),
    ("lull_users", "1500", "dev-loadtest.cfg: [loadtest-settings] spike-users = '1000' is smaller than lull-users"),
])
def test_a_bad_setting_fails_the_build_and_keeps_the_live_settings(built, tmp_path, setting, value, message):
    directory = str(tmp_path / "build")
    shutil.copytree(built, directory, symlinks=True)
    live = os.path.join(directory, "etc", "loadtest.conf")
    before = open(live).read()
    result = build_settings(directory, **{setting: value})
    assert result.returncode != 0 and message in result.stdout
    assert open(live).read() == before


def leg(rps, p99=1.0, failed=0):
    return {"rps": rps, "p50": 1.0, "p99": p99, "bytes_per_response": 100, "errors": 0, "cpu": "-",
            "users": 1, "requests": 100, "failed": failed, "command": "x"}


def test_bench_ratios_pair_measurements_by_name_not_by_order():
    from surge.loadtest import results

    # figures.json keeps the measurements sorted by name: the run's order is lost.
    web = dict(sorted({results.CACHED_KEPT: leg(9968), results.DISK_KEPT: leg(11404),
                       results.CACHED_NEW: leg(500), results.DISK_NEW: leg(1000),
                       results.CACHED_EVERY: leg(7000), results.BARE_KEPT: leg(20000)}.items()))
    text = "\n".join(results.web_section(web))
    assert "Cached page / disk, requests per second: **0.87** with kept-alive connections, **0.50**" in text
    assert "a bare nginx serving the same bytes: **0.50** with the hit log summed up (the default), **0.35**" in text
    members = dict(sorted({results.THROUGH_HAPROXY: leg(25.3, failed=2), results.DIRECT: leg(27.4)}.items()))
    text = "\n".join(results.members_section({**members, "threads": 4}))
    assert "Throughput through HAProxy / directly: **0.92**, failed requests through HAProxy: **2**" in text


def shape_run(probe_lull, probe_spike):
    empty = {"requests": 100, "failed": 0, "p50": 1.0, "p95": 1.0, "p99": 1.0}
    return {"top users": 600, "cpu busy": 0.97, "failed": {"anonymous": 3}, "probe failed": 0,
            "probe lull": {**empty, "p95": probe_lull}, "probe spike": {**empty, "p95": probe_spike},
            "classes in the spike": {"member": empty}, "logins": empty, "probe logins": empty, "cpu": "-",
            "command": "x"}


def test_spike_ratios_pair_runs_by_name_not_by_order():
    from surge.loadtest import results

    # figures.json sorts the sides by name; the run turns their order from shape to shape.
    shape = dict(sorted({results.CONFINED_FLAT: shape_run(100, 800), results.SHARED: shape_run(100, 400),
                         results.CONFINED: shape_run(100, 120)}.items()))
    text = "\n".join(results.spike_section({results.STAMPEDE: shape}))
    assert ("stampede: the author's p95 in the spike, confined, with the priorities / without: **0.15** (120 ms "
            "against 800") in text
    assert "stampede: the author's p95 in the spike, confined / shared: **0.30** (120 ms against 400" in text
    # spike / lull per run: 1.20 confined, 8.00 without priorities, 4.00 shared.
    assert "     - 1.20" in text and "     - 8.00" in text and "     - 4.00" in text


def test_a_shed_request_counts_as_a_failed_page_view_in_its_phase_and_class():
    from surge.loadtest import probe, results
    from surge.loadtest.bench_spike import SpikeBench
    from surge.loadtest.phases import Phase

    plan = [Phase("lull", 0, 10, 5, 5), Phase("ramp", 10, 13, 600, 200), Phase("spike", 13, 100, 600, 200),
            Phase("after", 100, 130, 5, 200)]
    start = 1000.0
    # (time, class, name, ms, failed): a panic page is a failed row, whatever its status code was.
    rows = [(start + 1, "anonymous", "search", 50.0, 0), (start + 20, "anonymous", "search", 40.0, 1),
            (start + 21, "member", "dashboard", 900.0, 1), (start + 110, "anonymous", "search", 40.0, 1),
            (start + 111, "author", "edit form", 90.0, 0)]
    probe_rows = [(start + 2, probe.CLASS, probe.EDIT_FORM, 100.0, 0), (start + 30, probe.CLASS, probe.EDIT_FORM,
                                                                          120.0, 1)]
    found = SpikeBench.figures(rows, probe_rows, start, plan)
    assert found["failed by phase"]["spike"] == {"anonymous": 1, "member": 1, "author": 0}
    assert found["failed by phase"]["after"] == {"anonymous": 1, "member": 0, "author": 0}
    assert found["failed by phase"]["lull"] == {"anonymous": 0, "member": 0, "author": 0}
    assert found["failed"] == {"anonymous": 2, "member": 1, "author": 0} and found["probe failed"] == 1
    text = "\n".join(results.spike_section({results.STAMPEDE: {results.CONFINED: {**found, "cpu busy": 0.5,
                                                                                "cpu": "-", "command": "x"}}}))
    assert "     - 0 / 0 / 0\n     - 0 / 0 / 0\n     - 1 / 1 / 0\n     - 1 / 0 / 0\n     - 2 / 1 / 0" in text


def test_a_shed_fresh_search_is_an_unanswered_search_of_its_phase():
    from surge.loadtest import results
    from surge.loadtest.bench_spike import FRESH_SEARCH, SpikeBench
    from surge.loadtest.phases import Phase

    plan = [Phase("lull", 0, 10, 5, 5), Phase("ramp", 10, 13, 600, 200), Phase("spike", 13, 100, 600, 200),
            Phase("after", 100, 130, 5, 200)]
    start = 1000.0
    rows = [(start + 20, "anonymous", FRESH_SEARCH, 40.0, 1), (start + 21, "anonymous", FRESH_SEARCH, 900.0, 0),
            (start + 22, "anonymous", FRESH_SEARCH, 30.0, 1), (start + 23, "anonymous", "anonymous: search", 9.0, 0),
            (start + 110, "anonymous", FRESH_SEARCH, 40.0, 1)]
    found = SpikeBench.figures(rows, [], start, plan)
    assert found["fresh searches"]["spike"] == {"requests": 3, "answered": 1}
    assert found["fresh searches"]["after"] == {"requests": 1, "answered": 0}
    assert found["fresh searches"]["lull"] == {"requests": 0, "answered": 0}
    text = "\n".join(results.spike_section({results.STAMPEDE: {results.CONFINED: {
        **found, "cpu busy": 0.5, "cpu": "-", "command": "x"}}}))
    assert "     - none sent\n     - none sent\n     - 1 of 3 (0.33)\n     - 0 of 1 (0.00)" in text


def test_failover_ratios_pair_replication_modes_by_name_not_by_order():
    from surge.loadtest import results

    # "saves, asynchronous ..." sorts before "saves, synchronous ...": the run's order is lost.
    saves = {results.SYNCHRONOUS: {"saves": 90, "failed": 0, "p50": 30.0, "p95": 60.0, "cpu": "-", "command": "x"},
             results.ASYNCHRONOUS: {"saves": 99, "failed": 0, "p50": 20.0, "p95": 40.0, "cpu": "-", "command": "x"}}
    killed = {"killed": "app-master", "write pause s": 21.3, "command": "y",
              **{f"{kind} {what}": count for kind in ("reader", "search", "author", "editor")
                 for what, count in (("failed", 2), ("requests", 50))}}
    text = "\n".join(results.failover_section({**dict(sorted(saves.items())), results.KILLED: killed}))
    assert "A save with synchronous replication / without: p50 **1.50**, p95 **1.50**" in text
    assert "app-master killed under load: the first confirmed save **21.3 s** after the cut" in text
    assert "editor 2 of 50" in text
