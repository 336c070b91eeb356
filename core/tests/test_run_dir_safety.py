"""Run folders and the files in them, as the security probe attacked them: a symlinked lock, a symlink at a
temporary file's name, lock errors that are not "busy", $INTARSIA_RUN_DIR set from outside, --run-dir at a
user's folder, ``name=..``; and torch files that are damaged or hold more than plain data."""

from __future__ import annotations

import errno
import os

import pytest
from intarsia.cli import main
from intarsia.errors import IntarsiaError
from intarsia.runner import api
from intarsia.runner.run_dir import LOCK_NAME, RunDirLock, atomic_write

RUN = ["builtin/random-grid", "steps=10", "checkpoint.every=0"]


def _one_line_error(capsys, args) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_a_symlinked_lock_is_refused_and_its_target_is_untouched(core_host, tmp_path, capsys):
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's notes\n")
    run_dir = tmp_path / "A"
    run_dir.mkdir()
    (run_dir / LOCK_NAME).symlink_to(precious)
    err = _one_line_error(capsys, ["run", *RUN, "--run-dir", str(run_dir)])
    assert "symlink" in err and LOCK_NAME in err
    assert precious.read_text() == "the user's notes\n"


def test_atomic_write_never_writes_through_a_planted_temporary_name(tmp_path):
    target, precious = tmp_path / "config.yaml", tmp_path / "precious.txt"
    precious.write_text("keep me")
    # the names the old code used (pid-predictable), planted as links to the user's file
    for name in (f".config.yaml.tmp{os.getpid()}", f"config.yaml.tmp{os.getpid()}"):
        (tmp_path / name).symlink_to(precious)
    atomic_write(target, "job: train\n")
    assert target.read_text() == "job: train\n" and not target.is_symlink()
    assert precious.read_text() == "keep me"
    leftovers = {p.name for p in tmp_path.iterdir()} - {"config.yaml", "precious.txt"}
    assert leftovers == {f".config.yaml.tmp{os.getpid()}", f"config.yaml.tmp{os.getpid()}"}  # only the planted links


def test_only_ewouldblock_means_in_use(tmp_path, monkeypatch):
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(IntarsiaError) as info:
        RunDirLock(tmp_path).acquire()
    assert "in use" not in str(info.value) and os.strerror(errno.ENOLCK) in str(info.value)

    def busy(fd, op):
        raise BlockingIOError(errno.EWOULDBLOCK, os.strerror(errno.EWOULDBLOCK))

    monkeypatch.setattr(fcntl, "flock", busy)
    with pytest.raises(IntarsiaError, match="in use by"):
        RunDirLock(tmp_path).acquire()


def test_run_dir_from_the_environment_is_ignored_unless_the_runner_set_it(core_host, tmp_path, monkeypatch):
    first = tmp_path / "first"
    api.run_config(RUN[0], ["steps=40", "checkpoint.every=20"], run_dir=first)
    config_before = (first / "config.yaml").read_text()
    latest_before = (first / "checkpoints" / "latest.json").read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(api.RUN_DIR_ENV, str(first))  # set by a user or a script, not by the runner
    report = api.run_config("builtin/qlearning-grid", ["steps=30", "checkpoint.every=10", f"log.dir={tmp_path / 'runs'}"])
    assert report["run_dir"] != str(first) and str(tmp_path / "runs") in report["run_dir"]
    assert (first / "config.yaml").read_text() == config_before
    assert (first / "checkpoints" / "latest.json").read_text() == latest_before
    assert os.environ[api.RUN_DIR_ENV] == str(first)  # left as it was
    # a stale owner (some other process) changes nothing
    monkeypatch.setenv(api.RUN_DIR_OWNER_ENV, "1")
    assert api.inherited_run_dir() is None
    monkeypatch.setenv(api.RUN_DIR_OWNER_ENV, str(os.getpid()))
    assert api.inherited_run_dir() == str(first)


def test_run_dir_into_a_users_folder_needs_force(core_host, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("my own config\n")
    (folder / "report.json").write_text('{"mine": true}')
    err = _one_line_error(capsys, ["run", *RUN, "--run-dir", str(folder)])
    assert "not empty" in err and "--force" in err
    assert (folder / "config.yaml").read_text() == "my own config\n"
    assert (folder / "report.json").read_text() == '{"mine": true}'
    assert main(["run", *RUN, "--run-dir", str(folder), "--force"]) == 0
    assert (folder / "config.yaml").read_text() != "my own config\n"


def test_an_unfinished_run_of_the_same_config_reruns_without_force(core_host, tmp_path):
    import shutil

    folder = tmp_path / "r"
    api.run_config(RUN[0], RUN[1:], run_dir=folder)
    shutil.rmtree(folder / "checkpoints")  # as if killed before its first checkpoint: nothing to resume
    assert api.run_config(RUN[0], RUN[1:], run_dir=folder)["steps"] >= 10
    shutil.rmtree(folder / "checkpoints")
    with pytest.raises(IntarsiaError, match="holds no run of this config"):
        api.run_config(RUN[0], ["steps=20", "checkpoint.every=0"], run_dir=folder)


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_a_name_cannot_leave_log_dir(core_host, tmp_path, capsys, name):
    logs = tmp_path / "deep" / "logs"
    err = _one_line_error(capsys, ["run", *RUN, f"name={name!r}" if name == "" else f"name={name}",
                                   f"log.dir={logs}"])
    assert "name:" in err
    assert not (tmp_path / "deep").exists() or not any(p for p in (tmp_path / "deep").iterdir() if p.name != "logs")


def test_a_name_with_separators_stays_inside_log_dir(core_host, tmp_path):
    logs = tmp_path / "logs"
    report = api.run_config(RUN[0], [*RUN[1:], "name=../../escape", f"log.dir={logs}"])
    assert os.path.realpath(report["run_dir"]).startswith(os.path.realpath(logs) + os.sep)
    assert not (tmp_path.parent / "escape").exists()


# -- torch files -------------------------------------------------------------------------------------------


class Gadget:  # a class a file may name: the safe loader must refuse to build it
    pass


def test_load_torch_file_turns_every_failure_into_one_line(tmp_path):
    import torch
    from intarsia.safe_load import FileLoadError, load_torch_file

    hostile = tmp_path / "hostile.pt"
    torch.save({"x": Gadget()}, hostile)
    truncated = tmp_path / "truncated.pt"
    torch.save({"w": torch.zeros(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a torch file at all")
    for path in (hostile, truncated, garbage, tmp_path / "missing.pt", tmp_path):
        with pytest.raises(FileLoadError) as info:
            load_torch_file(path, what="checkpoint")
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg and msg.startswith("cannot load checkpoint"), msg
        assert "weights_only=False" not in msg  # torch's advice to run the file's code never reaches the user
    assert torch.equal(load_torch_file(_plain(tmp_path))["w"], torch.ones(3))


def _plain(tmp_path):
    import torch

    path = tmp_path / "plain.pt"
    torch.save({"w": torch.ones(3)}, path)
    return path


def test_extends_quotes_at_most_a_short_excerpt_of_an_unreadable_file(core_host, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("password: [hunter2\n" + "TOPSECRET-" * 200 + "\n")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00binary")
    for target in (secret, tmp_path / "bin.yaml"):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"extends: {target}\nsteps: 10\n")
        err = _one_line_error(capsys, ["run", str(cfg), "--run-dir", str(tmp_path / "r")])
        assert str(target) in err and len(err) < len(str(target)) + 220, err
        assert err.count("TOPSECRET") <= 1
