"""Fuzzing the bundle reader (harmonise/bundle.py and the reading half of ingest: the
manifest, its checksums and paths, the files it lists): any change to a valid bundle
either still reads or is refused with the project's own one-line error; nothing else is
raised, no example hangs, the bundle is left as it was and nothing is written elsewhere."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from harmonise.ingest import prepare
from tests.fuzz.bundles import FILES, file_entry, write_bundle
from tests.fuzz.conftest import FUZZ, within
from tests.fuzz.test_fuzz_vcf import OWN_ERRORS, one_line

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=8,
)
HOSTILE_PATHS = st.sampled_from(
    [
        "../outside.txt", "/etc/hostname", "clinical/../../outside.txt", "clinical/", "clinical",
        "clinical//clinical.ndjson", ".hidden", "a" * 300, "clinical/é.ndjson", "manifest.json",
        "consent/consent.ndjson", "clinical/clinical.ndjson\x00", "variants/x.vcf.gz", "C:\\x",
        "link.ndjson", "fifo.ndjson", "dir.ndjson",
    ]
)  # fmt: skip
TOP_KEYS = st.sampled_from(
    ["format_version", "dataset_id", "title", "centre", "data_types", "analysis", "samples",
     "duo_codes", "files", "legal_basis", "reference", "pipeline", "embargo_until"]
)  # fmt: skip
FILE_KEYS = st.sampled_from(["path", "sha256", "size", "format"])
CONTENTS = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"", b"{}\n", b"[]\n", b"null\n", b"\xef\xbb\xbf{}\n", b"\xff\xfe", b"[" * 100_000,
            b'{"resourceType": "Patient"}\n', b'{"resourceType": "Bundle", "entry": [1, {}]}\n',
            b'{"resourceType": "Patient", "id": "TST-0a1b2c3d", "name": [{"text": "x"}]}\n',
            b'{"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/X"}}\n',
            b'{"resourceType": "Consent", "status": "active"}\n', b"{" * 5000 + b"}" * 5000,
        ]
    ),
)  # fmt: skip


@st.composite
def change(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(
        st.sampled_from(
            ["manifest-key", "manifest-drop", "file-key", "file-add", "file-drop",
             "content", "content-rechecked", "manifest-bytes"]
        )
    )  # fmt: skip
    if kind == "manifest-key":
        return kind, (draw(TOP_KEYS), draw(JSON))
    if kind == "manifest-drop":
        return kind, draw(TOP_KEYS)
    if kind == "file-key":
        value = draw(
            st.one_of(
                JSON,
                HOSTILE_PATHS,
                st.integers(-5, 2**70),
                st.text("0123456789abcdef", min_size=64, max_size=64),
            )
        )
        return kind, (draw(st.integers(0, 2)), draw(FILE_KEYS), value)
    if kind == "file-add":
        return kind, draw(HOSTILE_PATHS)
    if kind == "file-drop":
        return kind, draw(st.integers(0, 2))
    if kind in ("content", "content-rechecked"):
        return kind, (draw(st.sampled_from(sorted(FILES))), draw(CONTENTS))
    return kind, draw(CONTENTS)  # manifest-bytes


def _apply(bundle: Path, outside: Path, m: dict[str, Any], kind: str, arg: Any) -> None:
    files = m.get("files") if isinstance(m.get("files"), list) else []
    if kind == "manifest-key":
        m[arg[0]] = arg[1]
    elif kind == "manifest-drop":
        m.pop(arg, None)
    elif kind == "file-key" and files:
        entry = files[arg[0] % len(files)]
        if isinstance(entry, dict):
            entry[arg[1]] = arg[2]
    elif kind == "file-add":
        files.append({"path": arg, "sha256": "0" * 64, "size": 0, "format": "format_3464"})
    elif kind == "file-drop" and files:
        files.pop(arg % len(files))
    elif kind in ("content", "content-rechecked"):
        rel, data = arg
        (bundle / rel).write_bytes(data)
        if kind == "content-rechecked":  # the checksum made to match: the content is read
            for i, entry in enumerate(files):
                if isinstance(entry, dict) and entry.get("path") == rel:
                    files[i] = file_entry(bundle, rel)
    elif kind == "fs":
        rel, how = arg
        target = bundle / rel
        target.unlink()
        if how == "symlink-out":
            target.symlink_to(outside)
        elif how == "symlink-in":
            target.symlink_to(bundle / "consent" / "consent.ndjson")
        elif how == "fifo":
            os.mkfifo(target)
        elif how == "dir":
            target.mkdir()
    m["files"] = files if "files" in m or files else m.get("files")


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "other"
    return out


@FUZZ
@given(
    changes=st.lists(change(), min_size=1, max_size=3),
    fs=st.none()
    | st.tuples(
        st.sampled_from([*sorted(FILES), "manifest.json"]),
        st.sampled_from(["symlink-out", "symlink-in", "fifo", "dir", "missing"]),
    ),
)
def test_any_bundle_reads_or_is_refused_in_one_line(
    changes: list[tuple[str, Any]], fs: tuple[str, str] | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp, within():
        bundle = Path(tmp) / "bundle"
        scratch = Path(tmp) / "scratch"
        bundle.mkdir()
        scratch.mkdir()
        outside = Path(tmp) / "outside.txt"
        outside.write_text('{"resourceType": "Patient", "id": "SECRET"}\n')
        m = write_bundle(bundle)
        raw: bytes | None = None
        for kind, arg in changes:
            if kind == "manifest-bytes":
                raw = arg
            else:
                _apply(bundle, outside, m, kind, arg)
        (bundle / "manifest.json").write_bytes(raw if raw is not None else json.dumps(m).encode())
        if fs is not None:  # last: a FIFO or a folder is never written to by the test itself
            _apply(bundle, outside, m, "fs", fs)
        before = _snapshot(bundle)
        saved = tempfile.tempdir
        tempfile.tempdir = str(scratch)
        try:
            prep = prepare(bundle)
            rows = {  # a stream (the variants) is read to its end, as the commit reads it
                name: t.to_pylist() if isinstance(t, pa.Table) else [b.to_pylist() for b in t]
                for name, t in prep.submission.tables.items()
            }
            assert "SECRET" not in json.dumps(rows, default=str)
        except OWN_ERRORS as exc:
            one_line(exc)
        finally:
            tempfile.tempdir = saved
        assert _snapshot(bundle) == before
        assert list(scratch.iterdir()) == []
