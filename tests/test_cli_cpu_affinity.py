"""`garrison server --cpu-affinity`: the CPU list it accepts and that every thread honours it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from garrison.cli.commands import parse_cpu_list


def test_cpu_lists_as_linux_writes_them() -> None:
    assert parse_cpu_list("1") == {1}
    assert parse_cpu_list("0,2") == {0, 2}
    assert parse_cpu_list("0-3, 8") == {0, 1, 2, 3, 8}


@pytest.mark.parametrize("text", ["", "a", "1-", "3-1", "-1", "1,,2"])
def test_malformed_cpu_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpu_list(text)


def _server(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON_")}
    cmd = [sys.executable, "-m", "garrison", "server", "--port", "0"]
    cmd += ["--data-dir", str(tmp_path / "data"), *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_every_server_thread_runs_on_the_cpus_given(tmp_path: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    proc = _server(tmp_path, "--cpu-affinity", str(cpu))
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or "Garrison listening on" in line:
                break
        assert line and "Garrison listening on" in line
        tasks = list(Path(f"/proc/{proc.pid}/task").iterdir())
        assert len(tasks) >= 3  # event loop, writer, committer at least
        for task in tasks:
            status = (task / "status").read_text()
            allowed = re.search(r"Cpus_allowed_list:\s*(\S+)", status)
            assert allowed and allowed.group(1) == str(cpu), (task.name, allowed)
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_bad_cpu_list_stops_the_server_with_a_message(tmp_path: Path) -> None:
    proc = _server(tmp_path, "--cpu-affinity", "two")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--cpu-affinity 'two'" in out
