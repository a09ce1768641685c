"""A lake written by an older release's own code, for the in-place upgrade tests.

The release is checked out with ``git archive`` into a temporary folder and run in a
separate interpreter (``python -c`` puts the working directory first on ``sys.path``: it
runs in the old tree), so the lake's files and catalog are exactly what that release
wrote. Skips, saying why, where git or the commit is not there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[2] + "/bench")
from synthetic_network import build_vocabulary, centre_submission
from harmonise.lake import Lake, LakeConfig
home = Path(sys.argv[1])
lake = Lake(LakeConfig(f"sqlite:///{home / 'catalog.db'}", f"file://{home / 'wh'}"), b"tag-key")
lake.init()
vocab = build_vocabulary(np.random.default_rng(1))
lake.commit(centre_submission(0, int(sys.argv[3]), vocab, 1,
                              variants_per_patient=int(sys.argv[4])))
lake.pin(lake.current_version(), "before-upgrade")
import harmonise
print(harmonise.__file__)
"""


def old_release_lake(tmp_path: Path, release: str, patients: int, variants: int) -> Path:
    """The home (``catalog.db``, ``wh/``) of a lake that ``release`` made: one synthetic
    centre of ``patients`` with ``variants`` each, pinned as ``before-upgrade``."""
    if shutil.which("git") is None:
        pytest.skip("needs git to check out the old release")
    old = tmp_path / "old-release"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", release], capture_output=True, check=False
    )
    if archive.returncode != 0:
        pytest.skip(f"commit {release} is not in this checkout's history")
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    home = tmp_path / "home"
    (home / "wh").mkdir(parents=True)
    made = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(home), str(old), str(patients), str(variants)],
        env={**os.environ, "PYTHONPATH": str(old)},
        check=True,
        capture_output=True,
        text=True,
        cwd=old,
    )
    assert made.stdout.strip().splitlines()[-1].startswith(str(old))  # the old code ran
    return home
