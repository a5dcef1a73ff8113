"""bin/cluster confine's split: the web servers on the first half of the CPUs, the app servers on the second,
each app server held to an equal part of their time; the quota read back from either cgroup version's files.
The kernel's side (the processes' affinity and cpu groups) is tests/test_end_to_end.py's."""

import pytest

from surge.cluster import cpuquota, cpus


@pytest.mark.parametrize("available, web, app, part", [
    ({0, 1}, {0}, {1}, 0.5),
    ({0, 1, 2, 3}, {0, 1}, {2, 3}, 1.0),
    ({2, 5, 7}, {2}, {5, 7}, 1.0),
])
def test_the_app_servers_share_the_app_cpus_in_equal_parts(available, web, app, part):
    layout = cpus.layout(available)
    assert layout == {"app-master": app, "app-slave": app, "web-1": web, "web-2": web}
    assert cpus.quotas(available) == {"app-master": part, "app-slave": part}


def test_one_cpu_cannot_be_split():
    with pytest.raises(cpus.CpuError, match="at least 2 CPUs"):
        cpus.quotas({3})


@pytest.mark.parametrize("files, cores", [
    ({"cpu.cfs_quota_us": "2500\n", "cpu.cfs_period_us": "5000\n"}, 0.5),
    ({"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "5000\n"}, None),
    ({"cpu.max": "2500 5000\n"}, 0.5),
    ({"cpu.max": "max 5000\n"}, None),
])
def test_a_groups_quota_is_read_from_either_cgroup_version(tmp_path, files, cores):
    for name, text in files.items():
        tmp_path.joinpath(name).write_text(text)
    assert cpuquota.cores(str(tmp_path)) == cores
