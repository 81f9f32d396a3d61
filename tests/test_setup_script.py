"""setup.sh's install decision (`extras_to_install`), run in bash without
installing anything: extras once installed are kept, and only a changed
pyproject.toml or a new extra reinstalls."""

import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[1] / "setup.sh"
HASH = "a" * 64
OTHER_HASH = "b" * 64


def decide(stamp: Path, wanted: str, hash_: str = HASH) -> tuple[bool, str]:
    """(install needed, extras the install includes)."""
    result = subprocess.run(
        [
            "bash",
            "-c",
            'source "$1" && extras_to_install "$2" "$3" "$4"',
            "bash",
            SETUP,
            stamp,
            hash_,
            wanted,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0, result.stdout


@pytest.fixture
def stamp(tmp_path: Path) -> Path:
    return tmp_path / ".botskis-installed"


def test_no_stamp_installs_what_is_asked(stamp: Path) -> None:
    assert decide(stamp, "") == (True, "")
    assert decide(stamp, "test") == (True, "test")


def test_run_after_test_keeps_the_test_extra_and_installs_nothing(stamp: Path) -> None:
    stamp.write_text(f"{HASH} test\n")
    assert decide(stamp, "") == (False, "test")
    assert decide(stamp, "test") == (False, "test")


def test_a_new_extra_installs_with_the_ones_already_there(stamp: Path) -> None:
    stamp.write_text(f"{HASH} test\n")
    assert decide(stamp, "docs,test") == (True, "docs,test")


def test_a_changed_pyproject_reinstalls_every_installed_extra(stamp: Path) -> None:
    stamp.write_text(f"{HASH} test\n")
    assert decide(stamp, "", OTHER_HASH) == (True, "test")


def test_an_older_stamp_of_extras_only_counts_as_installed_extras(stamp: Path) -> None:
    stamp.write_text("test")
    assert decide(stamp, "") == (True, "test")


def test_sourcing_setup_runs_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", "-c", 'source "$1" && type extras_to_install >/dev/null && pwd', "bash", SETUP],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path)
    assert list(tmp_path.iterdir()) == []
