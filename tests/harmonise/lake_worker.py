"""A separate process that commits one submission; the lake tests kill it from outside.

Usage: python lake_worker.py CONFIG.json DATASET CENTRE N_PATIENTS PAUSE_AT MARKER

With PAUSE_AT set (a prefix of a progress message, e.g. ``variants: writing``), the
worker writes MARKER when it reaches that point and waits there to be killed. With
PAUSE_AT ``-`` it just commits and exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lakefixtures import make_submission

from harmonise.lake import Lake, LakeConfig


def main() -> None:
    config_path, dataset, centre, n, pause_at, marker = sys.argv[1:7]
    cfg = json.loads(Path(config_path).read_text())
    lake = Lake(LakeConfig(**cfg["config"]), cfg["tag_key"].encode())
    patients = [f"{centre}-p{i}" for i in range(int(n))]

    def progress(message: str) -> None:
        if pause_at != "-" and message.startswith(pause_at):
            Path(marker).write_text(message)
            time.sleep(120)

    lake.commit(make_submission(dataset, centre, patients), progress)


if __name__ == "__main__":
    main()
