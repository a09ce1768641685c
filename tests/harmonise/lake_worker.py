"""A separate process that commits one submission; the lake tests kill it from outside.

Usage: python lake_worker.py CONFIG.json DATASET CENTRE N_PATIENTS PAUSE_AT MARKER [RELEASE]

With PAUSE_AT set (a prefix of a progress message, e.g. ``variants: writing``), the
worker writes MARKER when it reaches that point and waits there: to be killed, or, with
RELEASE, until the file RELEASE exists (then it goes on). PAUSE_AT ``mid-variants``
pauses in the middle of writing the variants table, its file open and without a footer.
With PAUSE_AT ``-`` it just commits and exits 0. It prints the commit's status and
appends every progress message to MARKER.log.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
from lakefixtures import make_submission

import harmonise.lake.writer
from harmonise.lake import Lake, LakeConfig, Submission


def wait(marker: str, message: str, release: str | None) -> None:
    Path(marker).write_text(message)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if release is not None and Path(release).exists():
            return
        time.sleep(0.02)


def main() -> None:
    config_path, dataset, centre, n, pause_at, marker = sys.argv[1:7]
    release = sys.argv[7] if len(sys.argv) > 7 else None
    cfg = json.loads(Path(config_path).read_text())
    lake = Lake(LakeConfig(**cfg["config"]), cfg["tag_key"].encode())
    patients = [f"{centre}-p{i}" for i in range(int(n))]
    sub = make_submission(dataset, centre, patients)

    def progress(message: str) -> None:
        with open(f"{marker}.log", "a") as log:  # every message, for the test to follow
            log.write(message + "\n")
        if pause_at not in ("-", "mid-variants") and message.startswith(pause_at):
            wait(marker, message, release)

    if pause_at == "mid-variants":
        harmonise.lake.writer.WRITE_CHUNK_ROWS = 2
        variants = sub.tables["variants"]
        assert isinstance(variants, pa.Table)
        warehouse = Path(cfg["config"]["warehouse"])

        def pieces() -> Iterator[pa.Table]:
            yield variants.slice(0, 2)
            while not [p for p in warehouse.rglob("*.parquet") if "/variants/" in str(p)]:
                time.sleep(0.02)  # the writer thread opens the first file
            wait(marker, "mid-variants", release)
            yield variants.slice(2)

        sub = Submission(
            sub.submission_id, sub.dataset_id, sub.centre_id, sub.dataset,
            {**sub.tables, "variants": pieces()}, sub.tags,
        )  # fmt: skip
    result = lake.commit(sub, progress)
    print(result.status, flush=True)


if __name__ == "__main__":
    main()
