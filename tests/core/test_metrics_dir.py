"""`botskis serve --workers N` shares Prometheus samples through a temporary
directory: removed when the server exits, and left-overs of dead servers are
removed at the next start."""

import subprocess
import sys
from pathlib import Path

from tests.live_server import live_server, server_env


def _samples_dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("botskis-metrics-*"))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_serve_with_workers_removes_its_samples_dir_on_sigterm(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path / "logs", TMPDIR=str(tmp))
    # live_server stops the server with SIGTERM.
    with live_server(env, args=("--workers", "2")):
        (samples,) = _samples_dirs(tmp)
        assert any(samples.glob("*.db")), "the workers write their samples there"
    assert _samples_dirs(tmp) == []


def test_stale_samples_dirs_of_dead_servers_are_removed_at_start(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    stale = tmp / f"botskis-metrics-{_dead_pid()}-abc123"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"x")
    # A live process's directory and an operator's look-alike are not ours to remove.
    live = tmp / "botskis-metrics-1-def456"
    live.mkdir()
    foreign = tmp / "botskis-metrics-notes"
    foreign.mkdir()
    env = server_env(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path / "logs", TMPDIR=str(tmp))
    with live_server(env):
        assert not stale.exists()
        assert live.exists() and foreign.exists()
