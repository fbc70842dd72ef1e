"""Stale Snakemake locks: told apart from the lock of a run still going."""

from __future__ import annotations

import subprocess
import sys

from pipeline_lib import locks


def _lock(tmp_path):
    d = tmp_path / ".snakemake" / "locks"
    d.mkdir(parents=True)
    (d / "0.input.lock").write_text("results/x\n")


def test_no_lock_is_not_stale(tmp_path):
    assert not locks.stale_lock(tmp_path)
    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)
    assert not locks.stale_lock(tmp_path)  # the directory alone, as after a clean run
    assert locks.main([str(tmp_path)]) == 0


def test_a_lock_without_a_snakemake_process_is_stale(tmp_path, capsys):
    _lock(tmp_path)
    assert locks.stale_lock(tmp_path)
    assert locks.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "make unlock" in err and str(tmp_path.resolve()) in err


def test_a_lock_held_by_a_running_snakemake_is_not_stale(tmp_path):
    _lock(tmp_path)
    # a process whose command line names snakemake, working in the directory
    fake = tmp_path / "snakemake"
    fake.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(fake)], cwd=tmp_path)
    try:
        for _ in range(100):  # until /proc shows its command line
            if locks.running_here(tmp_path):
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert locks.running_here(tmp_path) == [proc.pid]
        assert not locks.stale_lock(tmp_path)
        # elsewhere the same process does not count
        other = tmp_path / "other"
        (other / ".snakemake" / "locks").mkdir(parents=True)
        (other / ".snakemake" / "locks" / "0.input.lock").write_text("x\n")
        assert locks.stale_lock(other)
    finally:
        proc.kill()
        proc.wait()
