"""A home that is what it says (issue 19, item 3): a copied or moved ONCOLAKE_HOME is
refused in one line, and the original's files are left untouched.

On the old code the copy's commands ran: the Iceberg catalog keeps absolute locations, so
the copy wrote into the original's warehouse and `lake maintain --purge` deleted from it.
Each test builds its own small home (one committed submission), never the demo's.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harmonise.errors import LakeConfigError
from harmonise.lake import Lake, LakeConfig
from oncolake.cli import app
from oncolake.commands.lake import open_lake
from oncolake.settings import HOME_FILE, HomeMovedError, Settings
from tests.harmonise.lakefixtures import make_submission


def _files(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under ``root``: size and SHA-256 (what must not change)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _build(home: Path) -> Path:
    lake = open_lake(Settings(home=home))
    lake.init()
    lake.commit(make_submission("DS-1", "NKI", ["NKI-P1", "NKI-P2"]))
    return home.resolve()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small home for the module's tests, none of which may change it."""
    return _build(tmp_path_factory.mktemp("home") / "original")


def _run(monkeypatch: pytest.MonkeyPatch, home: Path, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("ONCOLAKE_HOME", str(home))
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr


def test_home_records_where_it_was_made(original: Path) -> None:
    record = json.loads((original / HOME_FILE).read_text())
    assert record["path"] == str(original)
    assert len(record["id"]) == 32


@pytest.mark.parametrize(
    "command", [("lake", "tables"), ("lake", "maintain", "--purge"), ("lake", "init")]
)
def test_copied_home_is_refused_and_original_untouched(
    original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    before = _files(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    code, err = _run(monkeypatch, copy, *command)
    assert code == 1
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{copy} is a copy or a move of the oncolake home made at {original}" in err
    assert f"ONCOLAKE_HOME={original}" in err
    assert _files(original) == before


def test_moved_home_is_refused(tmp_path: Path) -> None:
    original = _build(tmp_path / "made-here")
    moved = tmp_path / "moved"
    original.rename(moved)
    with pytest.raises(HomeMovedError, match="is a copy or a move"):
        open_lake(Settings(home=moved)).table_counts(None)
    assert not original.exists()  # nothing was written at the old place either


def test_copy_of_a_home_without_identity_is_refused_by_the_catalog(
    original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home made before home.json: the lake itself sees where its catalog points."""
    before = _files(original)
    copy = tmp_path / "legacy-copy"
    shutil.copytree(original, copy, ignore=shutil.ignore_patterns(HOME_FILE))
    code, err = _run(monkeypatch, copy, "lake", "maintain", "--purge")
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(rf"keeps table oncolake\.\w+ in {re.escape(str(original))}/warehouse,", err)
    assert f"not in this lake's warehouse {copy / 'warehouse'}" in err
    assert _files(original) == before


def test_catalog_paired_with_another_warehouse_is_refused(original: Path, tmp_path: Path) -> None:
    config = LakeConfig(
        catalog_uri=f"sqlite:///{original / 'catalog.db'}", warehouse=str(tmp_path / "other")
    )
    with pytest.raises(LakeConfigError, match="was copied or moved"):
        Lake(config, b"k" * 32).current_version()


def test_original_still_opens(original: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = _run(monkeypatch, original, "lake", "tables")
    assert code == 0, err


def test_unreadable_identity_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / HOME_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not record where this home was made"):
        Settings(home=home).ensure_home()
