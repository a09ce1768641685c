"""Submission bundles: built and pseudonymised at the centre, read and checked at the hub.

A bundle is a folder ``<dataset_id>-<digest12>/`` holding ``manifest.json`` and the files
it lists with their SHA-256 (``variants/*.vcf.gz``, ``clinical/clinical.ndjson``,
``consent/consent.ndjson``, ``provenance/provenance.json``). It reaches the inbox
atomically: a local inbox gets it under a hidden temporary name and one ``rename``; an
``s3://`` inbox gets every file first and the ``_READY`` marker last. The hub only looks at
bundles that are complete (:func:`list_ready`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harmonise.errors import BundleError, ChecksumError, VcfError
from harmonise.fhir import full_urls, read_resources
from harmonise.pseudonymise import Pseudonymiser, PseudonymReport
from harmonise.vcf import bcftools_path, read_header

READY = "_READY"
MANIFEST = "manifest.json"
FORMATS = {
    ".vcf.gz": "format_3016",
    ".vcf": "format_3016",
    ".bcf": "format_3584",
    ".ndjson": "format_3464",
    ".json": "format_3464",
    ".bed": "format_3003",
    ".tsv": "format_3752",
}


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _format(path: str) -> str:
    for suffix, fmt in FORMATS.items():
        if path.endswith(suffix):
            return fmt
    return "format_1915"


@dataclass
class SubmitInputs:
    """What the centre submits: a draft manifest (local ids), results and clinical files."""

    manifest: Mapping[str, Any]
    provenance: Path | None = None
    vcfs: Sequence[Path] = ()
    clinical: Sequence[Path] = ()
    consent: Sequence[Path] = ()
    drop_identifiers: bool = False
    #: Clinical day offsets rounded to this many days (1: exact; see harmonise.pseudonymise).
    day_rounding: int = 1


@dataclass
class SubmitResult:
    """Where the bundle went and what pseudonymisation did."""

    location: str
    dataset_id: str
    digest: str
    files: int
    report: PseudonymReport = field(default_factory=PseudonymReport)


def _vcfs_from_provenance(
    prov: Mapping[str, Any], prov_path: Path
) -> list[tuple[Path, dict[str, Any]]]:
    root = prov_path.parent.parent.parent  # <root>/results/provenance/provenance.json
    out = []
    for s in prov.get("samples") or []:
        if not s.get("vcf"):
            continue
        p = Path(s["vcf"])
        for base in (root, prov_path.parent, Path.cwd()):
            if (base / p).exists():
                p = base / p
                break
        out.append((p, dict(s)))
    return out


def _reheader(src: Path, dst: Path, rename: Mapping[str, str]) -> None:
    """Copy a VCF with its samples renamed to pseudonyms and command lines removed."""
    exe = bcftools_path()
    if exe is None:
        raise VcfError("bcftools is not on PATH (install it: `make tools`)")
    header = subprocess.run([exe, "view", "-h", str(src)], capture_output=True, check=False)
    if header.returncode != 0:
        raise VcfError(f"{src}: cannot read the header: {header.stderr.decode().strip()[:300]}")
    lines = []
    for line in header.stdout.decode().splitlines():
        if line.startswith("##") and "Command=" in line.split("=", 1)[0] + "=":
            continue  # command lines carry local paths and sample names
        if line.startswith("#CHROM"):
            cols = line.split("\t")
            line = "\t".join(cols[:9] + [rename.get(c, c) for c in cols[9:]])
        lines.append(line)
    with tempfile.NamedTemporaryFile("w", suffix=".hdr", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
        hdr = fh.name
    try:
        done = subprocess.run(
            [exe, "reheader", "-h", hdr, "-o", str(dst), str(src)], capture_output=True
        )
        if done.returncode != 0:
            raise VcfError(f"{src}: bcftools reheader failed: {done.stderr.decode().strip()[:300]}")
    finally:
        os.unlink(hdr)


def build_bundle(inputs: SubmitInputs, key: bytes, workdir: Path) -> tuple[Path, SubmitResult]:
    """Pseudonymise and package a submission into ``workdir``; return the bundle folder."""
    from metadata.manifest import manifest_digest, validate_manifest
    from metadata.provenance import apply_provenance

    draft = json.loads(json.dumps(dict(inputs.manifest)))
    centre = (draft.get("centre") or {}).get("id")
    if not isinstance(centre, str) or not centre:
        raise BundleError("the draft manifest needs centre.id (the pseudonym prefix)")
    ps = Pseudonymiser(
        key=key, centre_id=centre, drop=inputs.drop_identifiers, day_rounding=inputs.day_rounding
    )
    stage = workdir / f".stage-{uuid.uuid4().hex[:8]}"
    stage.mkdir(parents=True)
    files: list[str] = []
    prov: dict[str, Any] | None = None
    if inputs.provenance is not None:
        try:
            prov = json.loads(Path(inputs.provenance).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"{inputs.provenance}: cannot read provenance.json ({exc})") from None
        draft = apply_provenance(draft, prov, where=str(inputs.provenance))
        (stage / "provenance").mkdir()
        slim = {k: v for k, v in prov.items() if k not in ("inputs", "outputs", "samples")}
        (stage / "provenance" / "provenance.json").write_text(json.dumps(slim, indent=2))
        files.append("provenance/provenance.json")
    # samples: local ids → pseudonyms; the VCF columns are renamed to the specimen pseudonym
    rename: dict[str, str] = {}
    samples = []
    for s in draft.get("samples") or []:
        s = dict(s)
        local_specimen = str(s.get("specimen_id"))
        pseudo = ps.id("Specimen", local_specimen)
        rename[str(s.get("vcf_sample") or local_specimen)] = pseudo
        s["specimen_id"] = pseudo
        s["patient_id"] = ps.id("Patient", str(s.get("patient_id")))
        if s.get("matched_normal"):
            s["matched_normal"] = ps.id("Specimen", str(s["matched_normal"]))
        s["vcf_sample"] = pseudo
        samples.append(s)
    draft["samples"] = samples
    vcfs: list[Path] = list(inputs.vcfs)
    if prov is not None and inputs.provenance is not None and not vcfs:
        vcfs = [p for p, _ in _vcfs_from_provenance(prov, Path(inputs.provenance))]
    if vcfs:
        (stage / "variants").mkdir()
    for src in vcfs:
        header = read_header(src)
        unknown = [s for s in header.samples if s not in rename]
        if unknown:
            raise BundleError(
                f"{src}: VCF sample(s) {', '.join(unknown)} are not samples of the manifest "
                "(specimen_id or vcf_sample); add them to the manifest"
            )
        name = "_".join(rename[s] for s in header.samples) or src.stem
        dst = stage / "variants" / f"{name}{'.bcf' if header.is_bcf else '.vcf.gz'}"
        _reheader(src, dst, rename)
        files.append(str(dst.relative_to(stage)))
    for folder, sources in (("clinical", inputs.clinical), ("consent", inputs.consent)):
        if not sources:
            continue
        resources = [r for src in sources for r in read_resources(src)]
        urls = full_urls(resources)
        for _, r in resources:
            r.pop("_fullUrl", None)
        clean = ps.resources(resources, urls)
        (stage / folder).mkdir()
        with open(stage / folder / f"{folder}.ndjson", "w") as fh:
            for r in clean:
                fh.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
        files.append(f"{folder}/{folder}.ndjson")
    draft["files"] = [
        {
            "path": f,
            "sha256": sha256_file(stage / f),
            "size": (stage / f).stat().st_size,
            "format": _format(f),
        }
        for f in sorted(files)
    ]
    manifest = validate_manifest(draft, where="manifest (after pseudonymisation)")
    digest = manifest_digest(manifest)
    (stage / MANIFEST).write_text(manifest.model_dump_json(indent=2, exclude_none=True))
    final = workdir / f"{manifest.dataset_id}-{digest[:12]}"
    if final.exists():
        shutil.rmtree(final)
    stage.rename(final)
    result = SubmitResult(str(final), manifest.dataset_id, digest, len(files), ps.report)
    return final, result


#: fsspec/s3fs options of an ``s3://`` inbox (``key``, ``secret``, ``client_kwargs``…), given
#: by the composition root from the settings; harmonise reads no environment itself.
StorageOptions = Mapping[str, Any]


def _s3(location: str, storage: StorageOptions | None = None) -> Any:
    import s3fs

    return s3fs.S3FileSystem(**dict(storage or {}))


def deliver(bundle: Path, inbox: str, storage: StorageOptions | None = None) -> str:
    """Copy a bundle folder into an inbox atomically; return its location there."""
    if inbox.startswith("s3://"):
        fs = _s3(inbox, storage)
        dest = f"{inbox.rstrip('/')}/{bundle.name}"
        for p in sorted(bundle.rglob("*")):
            if p.is_file():
                fs.put_file(str(p), f"{dest}/{p.relative_to(bundle)}")
        with fs.open(f"{dest}/{READY}", "wb") as fh:  # the marker goes last
            fh.write(b"")
        return dest
    root = Path(inbox)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".incoming-{bundle.name}-{uuid.uuid4().hex[:6]}"
    shutil.copytree(bundle, tmp)
    (tmp / READY).touch()
    final = root / bundle.name
    if final.exists():
        shutil.rmtree(tmp)  # the same bundle is already there (same digest, same content)
        return str(final)
    os.rename(tmp, final)  # atomic on one filesystem
    return str(final)


def list_ready(inbox: str, storage: StorageOptions | None = None) -> list[str]:
    """Complete bundles in an inbox (folders with the ``_READY`` marker), oldest name first."""
    if inbox.startswith("s3://"):
        fs = _s3(inbox, storage)
        found = fs.glob(f"{inbox.rstrip('/')}/*/{READY}")
        return sorted(f"s3://{p.rsplit('/', 1)[0]}" for p in found)
    root = Path(inbox)
    if not root.is_dir():
        raise BundleError(f"{inbox}: no such inbox folder")
    return sorted(
        str(p) for p in root.iterdir() if not p.name.startswith(".") and (p / READY).exists()
    )


def fetch(location: str, workdir: Path, storage: StorageOptions | None = None) -> Path:
    """A local folder with the bundle (downloaded from ``s3://`` if need be)."""
    if location.startswith("s3://"):
        fs = _s3(location, storage)
        if not fs.exists(f"{location}/{READY}"):
            raise BundleError(f"{location}: the bundle is incomplete (no {READY} marker yet)")
        dest = workdir / location.rstrip("/").rsplit("/", 1)[-1]
        fs.get(location.rstrip("/") + "/", str(dest), recursive=True)
        return dest
    p = Path(location)
    if not p.is_dir():
        raise BundleError(f"{location}: not a bundle folder (expected manifest.json inside)")
    return p


def verify_checksums(bundle: Path, files: Sequence[Any]) -> None:
    """Every listed file exists with its size and SHA-256; raise naming the first bad one."""
    for f in files:
        p = bundle / f.path
        if not p.is_file():
            raise ChecksumError(f"{bundle}: {f.path} is listed in manifest.json but missing")
        size = p.stat().st_size
        if size != f.size:
            raise ChecksumError(
                f"{p}: {size} bytes but the manifest says {f.size}: the file was cut short or "
                "changed in transfer; submit the bundle again"
            )
        digest = sha256_file(p)
        if digest != f.sha256:
            raise ChecksumError(
                f"{p}: SHA-256 {digest[:16]}… differs from the manifest's {f.sha256[:16]}…: the "
                "file changed after packaging; submit the bundle again"
            )
