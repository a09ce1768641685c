"""A consent withdrawal reaches every pinned version and the inbox (issue 20 item 4).

The checks read the files themselves (every Parquet file under the warehouse with pyarrow,
every inbox file's bytes, decompressed), not the lake's metadata.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consent.withdrawal import Withdrawal, list_withdrawals
from harmonise import withdrawal as wd
from harmonise.lake import Lake
from harmonise.withdrawal import apply_withdrawal, purge_inbox, scan_stores
from tests.harmonise.lakefixtures import make_submission

C1 = [f"C1-P{i}" for i in range(1, 7)]
GONE = "C1-P2"


def _submission(dataset: str, patients: list[str], revision: int = 0):  # type: ignore[no-untyped-def]
    sub = make_submission(dataset, "C1", patients, revision=revision)
    samples = [{"patient_id": p, "specimen_id": f"{p}-T1"} for p in patients]
    files = [{"path": f"variants/{p}-T1.vcf.gz"} for p in patients]
    manifest = json.dumps({"dataset_id": dataset, "samples": samples, "files": files})
    return type(sub)(
        sub.submission_id,
        sub.dataset_id,
        sub.centre_id,
        {**sub.dataset, "manifest_json": manifest},
        sub.tables,
        sub.tags,
    )


def parquet_cells_naming(root: Path, needle: str) -> list[str]:
    """Every Parquet file under ``root`` that holds ``needle`` in any cell or in its
    key-value metadata (read with pyarrow, every column as text)."""
    found = []
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if any(needle.encode() in v for v in meta.values()):
            found.append(f"{path} (metadata)")
            continue
        for col in table.columns:
            if any(needle in str(v) for v in col.to_pylist()):
                found.append(f"{path} ({col._name})")
                break
    return found


def _patients(lake: Lake, version: object = None) -> set[str]:
    return set(lake.read("patients", version, columns=["patient_id"]).column(0).to_pylist())  # type: ignore[arg-type]


def test_withdrawal_rewrites_pinned_versions_and_leaves_no_file_naming_the_patient(
    tmp_path: Path, local_lake: Lake
) -> None:
    lake = local_lake
    lake.commit(_submission("D1", C1[:3]))
    lake.commit(_submission("D2", C1[3:]))
    pinned = lake.current_version()
    lake.pin(pinned, "request-1")
    lake.commit(_submission("D3", ["C1-P9"]))  # the lake moves on past the pin
    warehouse = Path(lake.config.warehouse)
    assert parquet_cells_naming(warehouse, GONE)  # the patient is in files to begin with
    home = tmp_path / "home"

    done = apply_withdrawal(
        lake, home, Withdrawal(patient_id=GONE, date=dt.date(2026, 12, 1), reason="asked")
    )

    assert GONE not in _patients(lake)
    assert _patients(lake) == {*C1, "C1-P9"} - {GONE}
    (amended,) = done.pins
    assert amended.name == "request-1" and amended.before == pinned
    assert amended.rows_removed["patients"] == 1 and amended.rows_removed["variants"] == 3
    assert amended.rows_removed["datasets"] == 1  # D1's manifest named the patient
    after = lake.pins()["request-1"]
    assert after == amended.after and after != pinned
    assert _patients(lake, after) == set(C1) - {GONE}  # the pin: that version minus them
    assert parquet_cells_naming(warehouse, GONE) == []
    assert parquet_cells_naming(warehouse, f"{GONE}-T1") == []
    manifests = lake.read("datasets", after, columns=["manifest_json"]).column(0).to_pylist()
    d1 = next(json.loads(m) for m in manifests if '"D1"' in m)
    assert [s["patient_id"] for s in d1["samples"]] == ["C1-P1", "C1-P3"]
    assert (list_withdrawals(home)[0].status, done.lake_version) == (
        "applied",
        lake.current_version().id,
    )
    # a re-run (after a crash at any point) changes nothing more and still succeeds
    again = apply_withdrawal(lake, home, list_withdrawals(home)[0])
    assert sum(again.rows_removed.values()) == 0 and again.pins == []
    assert lake.pins()["request-1"] == after


def test_withdrawal_deletes_inbox_bundles_that_name_the_patient(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    named = inbox / "D1-aaaa"
    (named / "variants").mkdir(parents=True)
    (named / "manifest.json").write_text(json.dumps({"samples": [{"patient_id": "C1-P1"}]}))
    # the withdrawn patient only inside a compressed VCF header
    (named / "variants" / "x.vcf.gz").write_bytes(gzip.compress(f"#CHROM\t{GONE}\n".encode()))
    other = inbox / "D2-bbbb"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"samples": [{"patient_id": "C1-P5"}]}))
    assert purge_inbox(inbox, [GONE]) == [str(named)]
    assert not named.exists() and other.exists()
    assert [p for p in inbox.rglob("*") if p.is_file() and GONE.encode() in p.read_bytes()] == []


def test_purge_scan_reads_parquet_cells_compressed_and_plain_files(tmp_path: Path) -> None:
    """The purge report's scanner finds an id wherever a file keeps it (zstd-compressed
    Parquet cells, Parquet key-value metadata, a gzip file, plain bytes) and skips links."""
    store = tmp_path / "store"
    store.mkdir()
    cells = pa.table({"patient_id": ["C1-P1", GONE, GONE], "n": [1, 2, 3]})
    pq.write_table(cells, store / "cells.parquet", compression="zstd")
    meta = pa.table({"x": [1]}).replace_schema_metadata({"k": f"about {GONE}"})
    pq.write_table(meta, store / "meta.parquet")
    (store / "x.vcf.gz").write_bytes(gzip.compress(f"#CHROM\t{GONE}-T1\n".encode()))
    (store / "notes.txt").write_text(f"{GONE} {GONE}")
    (store / "link.txt").symlink_to(store / "notes.txt")
    (store / "registry.jsonl").write_text(GONE)
    (scan,) = scan_stores([("s", store)], [GONE, f"{GONE}-T1"], skip=[store / "registry.jsonl"])
    assert scan.files == 4
    assert {Path(k).name: v for k, v in scan.hits.items()} == {
        "cells.parquet": 2,
        "meta.parquet": 1,
        "x.vcf.gz": 2,  # the specimen id, and the pseudonym within it
        "notes.txt": 2,
    }
    assert "registry.jsonl skipped" in scan.note


def _files_naming(lake: Lake, needle: str) -> list[str]:
    """Every Parquet file under the lake's tables (referenced or not), read with pyarrow,
    that holds ``needle`` in a cell: the same check on a local or an S3 warehouse."""
    return [
        path
        for path in lake.data_files()
        if any(needle in str(v) for col in lake.open_file(path).columns for v in col.to_pylist())
    ]


def test_pin_amendment_on_every_catalog_and_warehouse(tmp_path: Path, lake: Lake) -> None:
    """Branch, rewrite, tag move and purge on SQLite/PostgreSQL catalogs × local/S3."""
    lake.commit(_submission("D1", C1[:3]))
    lake.pin(lake.current_version(), "request-7")
    lake.commit(_submission("D2", C1[3:]))
    assert _files_naming(lake, GONE)
    done = apply_withdrawal(
        lake, tmp_path / "home", Withdrawal(patient_id=GONE, date=dt.date(2026, 12, 1), reason="r")
    )
    assert [p.name for p in done.pins] == ["request-7"]
    assert _patients(lake, lake.pins()["request-7"]) == {"C1-P1", "C1-P3"}
    assert _files_naming(lake, GONE) == []


def test_rerun_after_a_crash_mid_pin_move_finishes_it(
    tmp_path: Path, local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = local_lake
    lake.commit(_submission("D1", C1[:3]))
    lake.pin(lake.current_version(), "request-1")
    lake.commit(_submission("D2", C1[3:]))
    home = tmp_path / "home"
    real = wd._move_pin
    calls = {"n": 0}

    def crash_once(*args: object) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the second table's amended snapshot is on its branch only
            raise KeyboardInterrupt("killed")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(wd, "_move_pin", crash_once)
    w = Withdrawal(patient_id=GONE, date=dt.date(2026, 12, 1), reason="r")
    with pytest.raises(KeyboardInterrupt):
        apply_withdrawal(lake, home, w)
    monkeypatch.undo()
    assert any(
        r.startswith(wd.AMEND_PREFIX) for t in ("patients", "conditions", "consents", "variants")
        for r in lake.table(t).metadata.refs
    )  # fmt: skip
    (recorded,) = list_withdrawals(home)
    assert recorded.status == "recorded"
    apply_withdrawal(lake, home, recorded)
    assert list_withdrawals(home)[0].status == "applied"
    assert _patients(lake, lake.pins()["request-1"]) == {"C1-P1", "C1-P3"}
    for t in ("patients", "conditions", "consents", "variants", "datasets"):
        assert not [r for r in lake.table(t).metadata.refs if r.startswith(wd.AMEND_PREFIX)]
    assert parquet_cells_naming(Path(lake.config.warehouse), GONE) == []


def test_no_manifest_keeps_a_withdrawn_patient_as_a_column_bound(
    tmp_path: Path, local_lake: Lake
) -> None:
    """The first patient of a file is its ``patient_id`` lower bound in the Iceberg
    manifests (deflate-compressed Avro): after the withdrawal no manifest, of the current
    or of a pinned version, still names them there."""
    lake = local_lake
    lake.commit(_submission("D1", C1[:3]))
    lake.pin(lake.current_version(), "request-1")
    lake.commit(_submission("D2", C1[3:]))
    first = C1[0]
    warehouse = Path(lake.config.warehouse)
    (before,) = scan_stores([("warehouse", warehouse)], [first])
    assert any(k.endswith(".avro") for k in before.hits)  # a bound, inside compressed Avro
    apply_withdrawal(
        lake, tmp_path / "home", Withdrawal(patient_id=first, date=dt.date(2026, 12, 1), reason="r")
    )
    (after,) = scan_stores([("warehouse", warehouse)], [first])
    assert after.hits == {}
