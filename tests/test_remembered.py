"""What a build remembers of another server's configuration (surge.buildout.remembered): values read once and
kept while every file zc.buildout opened for them is unchanged, including a file the top-level file extends;
a value not kept yet, or any of those files changed, loads the file again."""

import os
import stat

from surge.buildout import remembered, schema
from surge.buildout.across import load


def write(path, text):
    with open(path, "w") as stream:
        stream.write(text)


def counting_load(calls):
    def counted(path):
        calls.append(path)
        return load(path)
    return counted


def test_a_value_is_loaded_once_and_kept_until_a_file_it_came_from_changes(tmp_path):
    base, other, memory_file = tmp_path / "base.cfg", tmp_path / "other.cfg", str(tmp_path / "checks" / "across.json")
    write(base, "[buildout]\nparts =\n\n[ports]\nhaproxy = 8200\n")
    write(other, "[buildout]\nextends = base.cfg\n\n[hosts]\nserver = 127.0.1.21\n[listen]\nhaproxy = ${hosts:server}:"
                 "${ports:haproxy}\n")
    calls = []

    def read(memory):
        config = memory.config(str(other), counting_load(calls))
        return (config["listen"]["haproxy"], config["ports"].get("memcached", "none"),
                sorted(config._raw.get("listen", {})), config._raw.get("nothing", "no section"))

    memory = remembered.Memory(memory_file)
    assert read(memory) == ("127.0.1.21:8200", "none", ["haproxy"], "no section")
    assert len(calls) == 1
    memory.save()
    assert stat.S_IMODE(os.stat(memory_file).st_mode) == 0o600

    # Unchanged files: every value read before comes from the record, the file is not loaded.
    assert read(remembered.Memory(memory_file)) == ("127.0.1.21:8200", "none", ["haproxy"], "no section")
    assert len(calls) == 1
    # A value the record does not hold loads the file once.
    memory = remembered.Memory(memory_file)
    assert memory.config(str(other), counting_load(calls))["hosts"]["server"] == "127.0.1.21"
    assert len(calls) == 2
    memory.save()

    # A change in the file the top-level file extends is seen.
    write(base, "[buildout]\nparts =\n\n[ports]\nhaproxy = 8250\nmemcached = 11211\n")
    memory = remembered.Memory(memory_file)
    assert read(memory) == ("127.0.1.21:8250", "11211", ["haproxy"], "no section")
    assert len(calls) == 3
    memory.save()
    assert read(remembered.Memory(memory_file)) == ("127.0.1.21:8250", "11211", ["haproxy"], "no section")
    assert len(calls) == 3


def test_nothing_is_written_without_a_record_or_a_change(tmp_path):
    memory_file = str(tmp_path / "checks" / "across.json")
    remembered.Memory(memory_file).save()
    assert not os.path.exists(memory_file)


def test_what_a_daemons_program_said_is_kept_until_the_program_is_replaced(tmp_path):
    program, calls, record = tmp_path / "patroni", tmp_path / "calls", str(tmp_path / "checks" / "daemons.json")

    def install(says):
        write(f"{program}.new", f"#!/bin/sh\necho asked >> {calls}\necho '{says}'\n")
        os.chmod(f"{program}.new", 0o755)
        os.replace(f"{program}.new", program)  # as a package upgrade does: a new file

    def check(answers):
        schema.Daemon.answers = answers
        try:
            return schema.PATRONI.problem(str(program), None)
        finally:
            schema.Daemon.answers = None

    def asked():
        return len(calls.read_text().splitlines())

    install("patroni 4.0.4")
    answers = remembered.Answers(record)
    assert check(answers) is None and asked() == 1
    answers.save()
    assert stat.S_IMODE(os.stat(record).st_mode) == 0o600
    assert check(remembered.Answers(record)) is None and asked() == 1

    # Another program in its place is asked again, and refused.
    install("hello")
    answers = remembered.Answers(record)
    assert check(answers) == f"is not patroni: '{program} --version' says 'hello'" and asked() == 2
    # Without the record, every check asks.
    install("patroni 4.0.4")
    assert check(None) is None and check(None) is None and asked() == 4
