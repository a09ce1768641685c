"""Submission bundles: built and pseudonymised at the centre, read and checked at the hub.

A bundle is a folder ``<dataset_id>-<digest12>/`` holding ``manifest.json`` and the files
it lists with their SHA-256 (``variants/*.vcf.gz``, ``clinical/clinical.ndjson``,
``consent/consent.ndjson``, ``provenance/provenance.json``, and the pipeline's results
beyond small variants, CONTRACT23: ``structural/<name>.vcf.gz``,
``copy_number/<name>.segments.tsv``, ``copy_number/<name>.genes.tsv``,
``biomarkers/<name>.tmb_msi.json``, ``<name>`` the tumour's and its normal's specimen
pseudonyms, each listed with the tumour's ``specimen_id``: :func:`find_results`). It
reaches the inbox atomically: a local inbox gets it under a hidden temporary name and one
``rename``; an ``s3://`` inbox gets every file first and the ``_READY`` marker last. The hub
only looks at bundles that are complete (:func:`list_ready`).

The hub reads nothing outside a bundle: :func:`check_confined` refuses a bundle that holds
a symbolic link (a VCF, the ``variants/`` folder, ``manifest.json``…) or anything but
regular files and folders, before any byte of it is read; :func:`verify_checksums` opens
every file component by component without following links; an ``s3://`` bundle whose keys
would land outside its download folder (``..``) is refused before it is fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
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


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A bundle's JSON file that must hold an object (``provenance.json``): refused in one
    line if it is not UTF-8, not JSON, nested too deeply to parse, or not an object."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"{path}: {what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise BundleError(f"{path}: {what} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: {what} is a JSON {type(data).__name__}, not an object")
    return data


def provenance_contigs(prov: Mapping[str, Any]) -> list[str] | None:
    """The reference's contig names a provenance record lists (None: not a list of names)."""
    ref = prov.get("reference")
    contigs = ref.get("contigs") if isinstance(ref, dict) else None
    if isinstance(contigs, list) and all(isinstance(c, str) for c in contigs):
        return contigs
    return None


def check_confined(bundle: Path) -> None:
    """Refuse a bundle that is, or holds, anything but regular files and folders.

    A symbolic link anywhere in the bundle (the bundle folder itself, a VCF, the
    ``variants/`` folder, ``manifest.json``, an index beside a VCF) could make the hub read a
    file outside the bundle; a FIFO or device could make it hang. Nothing is opened here:
    every entry is only ``lstat``-ed, so the refusal comes before any byte is read.
    """
    try:
        top = os.lstat(bundle)
    except OSError as exc:
        raise BundleError(f"{bundle}: cannot read the bundle folder ({exc.strerror})") from None
    if stat.S_ISLNK(top.st_mode):
        raise BundleError(
            f"{bundle}: the bundle folder is a symbolic link (to {os.readlink(bundle)}); "
            "give the folder itself, links are never followed"
        )
    if not stat.S_ISDIR(top.st_mode):
        raise BundleError(f"{bundle}: not a bundle folder (expected manifest.json inside)")

    def refuse(err: OSError) -> None:
        raise BundleError(f"{err.filename}: cannot read the bundle ({err.strerror})")

    for folder, dirs, names in os.walk(bundle, onerror=refuse, followlinks=False):
        for name in dirs + names:
            entry = Path(folder) / name
            mode = os.lstat(entry).st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(
                    f"{entry}: a symbolic link (to {os.readlink(entry)}) inside the bundle; "
                    "a bundle holds regular files only and links are never followed: put the "
                    "file itself in the bundle and submit it again"
                )
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise BundleError(
                    f"{entry}: not a regular file (a FIFO, socket or device) inside the bundle; "
                    "a bundle holds regular files only"
                )


def _bundle_relpath(rel: str, where: object) -> PurePosixPath:
    """``rel`` as a path that stays inside its bundle (no absolute path, no ``..``)."""
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise BundleError(
            f"{where}: {rel!r} is not a relative path inside the bundle (no leading '/', "
            "no '.' or '..' parts)"
        )
    return p


def _open_in(bundle: Path, rel: str) -> int:
    """A read-only descriptor of ``bundle/rel``, opened one component at a time with
    ``O_NOFOLLOW`` (``openat`` via ``dir_fd``), so that no symbolic link is followed even if
    one replaced a folder after :func:`check_confined`; ``O_NONBLOCK`` so that a FIFO is
    refused instead of blocking. The caller closes it."""
    parts = _bundle_relpath(rel, bundle).parts
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(bundle, nofollow | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            sub = os.open(part, nofollow | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        leaf = os.open(parts[-1], nofollow | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(leaf).st_mode):
        os.close(leaf)
        raise BundleError(f"{bundle / rel}: not a regular file; a bundle holds regular files only")
    return leaf


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
    #: The pipeline's ``results/`` folder: its structural-variant, copy-number and TMB/MSI
    #: outputs (CONTRACT23) are packed for each tumour of the manifest. Default: the
    #: ``results/`` folder of ``provenance``.
    results: Path | None = None


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


#: The pipeline's outputs beyond small variants (CONTRACT23), relative to ``results/``:
#: (kind, provenance sample key, path pattern, bundle folder, bundle name ending).
RESULT_OUTPUTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("structural_variants", "sv_vcf", "annotated/sv/{patient}.sv.annotated.vcf.gz",
     "structural", ".vcf.gz"),
    ("copy_number", "cnv_segments", "cnv/{patient}.segments.tsv", "copy_number",
     ".segments.tsv"),
    ("copy_number", "cnv_genes", "cnv/{patient}.genes.tsv", "copy_number", ".genes.tsv"),
    ("biomarkers", "tmb_msi", "biomarkers/{patient}.tmb_msi.json", "biomarkers",
     ".tmb_msi.json"),
)  # fmt: skip


@dataclass(frozen=True)
class ResultFile:
    """A pipeline result file found for a tumour of the draft manifest (local ids)."""

    kind: str
    source: Path
    folder: str
    ending: str
    tumour: Mapping[str, Any]
    normal: Mapping[str, Any] | None


def find_results(
    draft: Mapping[str, Any], results: Path, prov: Mapping[str, Any] | None = None
) -> list[ResultFile]:
    """The CONTRACT23 outputs under the pipeline's ``results`` folder for each tumour of
    the draft manifest, located as ``oncolake submit`` locates the annotated VCFs: the
    provenance's sample entry names the file (``sv_vcf``, ``cnv_segments``, ``cnv_genes``,
    ``tmb_msi``) or the contract's path for the sample's ``patient`` is used; a file that
    does not exist is not an output of this run. A file the provenance lists among its
    outputs must have the SHA-256 recorded there (a result changed after the run is
    refused)."""
    samples: list[dict[str, Any]] = [dict(s) for s in draft.get("samples") or []]
    by_name = {str(s.get("vcf_sample") or s.get("specimen_id")): s for s in samples}
    by_id = {str(s.get("specimen_id")): s for s in samples}
    entries: list[tuple[dict[str, Any], Mapping[str, Any], str]] = []
    for entry in (prov or {}).get("samples") or []:
        found_tumour = by_name.get(str(entry.get("tumour")))
        if found_tumour is not None and found_tumour.get("role") == "tumour":
            entries.append((found_tumour, entry, str(entry.get("patient"))))
    if not entries:  # no provenance: the contract's paths for each patient's one tumour
        tumours = [s for s in samples if s.get("role") == "tumour"]
        patients = [str(t.get("patient_id")) for t in tumours]
        entries = [(t, {}, p) for t, p in zip(tumours, patients, strict=True)
                   if patients.count(p) == 1]  # fmt: skip
    recorded = {
        str(o.get("path")): str(o.get("sha256"))
        for o in (prov or {}).get("outputs") or []
        if isinstance(o, Mapping)
    }
    root = results.parent
    found: list[ResultFile] = []
    for tumour, entry, patient in entries:
        matched = tumour.get("matched_normal")
        normal = by_id.get(str(matched)) if matched else None
        for kind, key, pattern, folder, ending in RESULT_OUTPUTS:
            given = entry.get(key)
            rel = str(given) if given else f"{results.name}/{pattern.format(patient=patient)}"
            path = next(
                (b / rel for b in (root, results) if (b / rel).is_file()),
                None,
            )
            if path is None and given:
                raise BundleError(
                    f"provenance sample {patient}: {key} {given!r} does not exist under "
                    f"{root}; run the pipeline to completion or fix the results folder"
                )
            if path is None:
                continue
            want = recorded.get(rel) or recorded.get(str(path))
            if want is not None and sha256_file(path) != want:
                raise BundleError(
                    f"{path}: its SHA-256 differs from the one provenance.json records for "
                    "this output: the file changed after the pipeline ran; re-run the pipeline"
                )
            found.append(ResultFile(kind, path, folder, ending, tumour, normal))
    return found


def _check_result(rf: ResultFile, draft: Mapping[str, Any]) -> None:
    """Read a result file with the hub's reader before packing it (a bad file is refused
    at the centre, with the same message the hub would give)."""
    from harmonise.copy_number import read_genes, read_segments
    from harmonise.structural import read_structural
    from harmonise.tmb_msi import read_tmb_msi

    ref = draft.get("reference") or {}
    build, naming = str(ref.get("build") or "GRCh38"), ref.get("contig_naming")
    if rf.kind == "structural_variants":
        read_structural(rf.source, build, naming)
    elif rf.ending == ".segments.tsv":
        read_segments(rf.source, build, naming)
    elif rf.ending == ".genes.tsv":
        read_genes(rf.source, build, naming)
    else:
        read_tmb_msi(rf.source)


def _pack_results(
    found: Sequence[ResultFile],
    draft: dict[str, Any],
    stage: Path,
    rename: Mapping[str, str],
    ps: Pseudonymiser,
) -> dict[str, str]:
    """Copy the result files into ``stage`` under their bundle names (pseudonymised: the
    tumour and normal specimen pseudonyms), the SV VCF's samples renamed as the small
    variants' are; add their data types to ``draft``. Returns {bundle path: tumour
    pseudonym}."""
    out: dict[str, str] = {}
    for rf in found:
        _check_result(rf, draft)
        tumour = ps.id("Specimen", str(rf.tumour.get("specimen_id")))
        parts = [tumour]
        if rf.normal is not None:
            parts.append(ps.id("Specimen", str(rf.normal.get("specimen_id"))))
        (stage / rf.folder).mkdir(exist_ok=True)
        dst = stage / rf.folder / f"{'_'.join(parts)}{rf.ending}"
        if rf.kind == "structural_variants":
            header = read_header(rf.source)
            unknown = [s for s in header.samples if s not in rename]
            if unknown:
                raise BundleError(
                    f"{rf.source}: VCF sample(s) {', '.join(unknown)} are not samples of the "
                    "manifest (specimen_id or vcf_sample); add them to the manifest"
                )
            _reheader_text(rf.source, dst, rename)
        else:
            shutil.copyfile(rf.source, dst)
        out[str(dst.relative_to(stage))] = tumour
        types = list(draft.get("data_types") or [])
        if rf.kind not in types:
            draft["data_types"] = [*types, rf.kind]
    return out


def _reheader_text(src: Path, dst: Path, rename: Mapping[str, str]) -> None:
    """:func:`_reheader` for a small text VCF (the SV VCF), in process: the header's
    sample columns renamed, command lines removed, the records copied, bgzipped."""
    import gzip

    import pysam

    with open(src, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    try:
        with opener(src, "rt", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise VcfError(f"{src}: cannot be read ({exc})") from None
    out = []
    for line in lines:
        if line.startswith("##") and "Command=" in line.split("=", 1)[0] + "=":
            continue  # command lines carry local paths and sample names
        if line.startswith("#CHROM"):
            cols = line.split("\t")
            line = "\t".join(cols[:9] + [rename.get(c, c) for c in cols[9:]])
        out.append(line)
    plain = dst.with_name(dst.name.removesuffix(".gz") + ".tmp")
    plain.write_text("\n".join(out))
    try:
        pysam.tabix_compress(str(plain), str(dst), force=True)
    finally:
        plain.unlink()


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


def qc_with_specimens(
    qc: Mapping[str, Any], samples: Sequence[Mapping[str, Any]], rename: Mapping[str, str]
) -> dict[str, Any]:
    """The provenance's ``qc`` for the bundle: each pair (in the order of provenance's
    ``samples``) with its tumour's and normal's specimen pseudonyms, for the hub to link
    the figures (``specimen_qc``, ``gene_coverage``); a pair whose tumour is not a sample
    of the manifest is left out (its QC is not part of this submission)."""
    pairs = []
    for pair, entry in zip(qc.get("pairs") or [], samples, strict=False):
        tumour = rename.get(str(entry.get("tumour")))
        if tumour is None or not isinstance(pair, Mapping):
            continue
        normal = rename.get(str(entry.get("normal")))
        pairs.append(
            {
                **pair,
                "tumour_specimen_id": tumour,
                **({"normal_specimen_id": normal} if normal else {}),
            }
        )
    return {**qc, "pairs": pairs}


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
    if prov is not None:
        (stage / "provenance").mkdir()
        slim = {k: v for k, v in prov.items() if k not in ("inputs", "outputs", "samples")}
        if isinstance(slim.get("qc"), Mapping):
            slim["qc"] = qc_with_specimens(slim["qc"], prov.get("samples") or [], rename)
        (stage / "provenance" / "provenance.json").write_text(json.dumps(slim, indent=2))
        files.append("provenance/provenance.json")
    results_dir = inputs.results
    if results_dir is None and inputs.provenance is not None:
        results_dir = Path(inputs.provenance).parent.parent  # results/provenance/…json
    found = find_results(draft, results_dir, prov) if results_dir is not None else []
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
    result_specimens = _pack_results(found, draft, stage, rename, ps)
    files += sorted(result_specimens)
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
            **({"specimen_id": result_specimens[f]} if f in result_specimens else {}),
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
    check_confined(bundle)
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
        root = location.rstrip("/").removeprefix("s3://")
        dest = workdir / root.rsplit("/", 1)[-1]
        # every key is checked before the first is fetched: one whose name holds '..' (S3
        # allows any name) would otherwise be written, and later read, outside ``dest``
        keys = [k for k in fs.find(root) if k != root]
        rels = [_bundle_relpath(k[len(root) + 1 :], location) for k in keys]
        for key, rel in zip(keys, rels, strict=True):
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(key, str(target))
        check_confined(dest)
        return dest
    p = Path(location)
    check_confined(p)
    return p


def verify_checksums(bundle: Path, files: Sequence[Any]) -> None:
    """Every listed file exists with its size and SHA-256; raise naming the first bad one.

    Files are opened without following links (:func:`_open_in`): a listed path that is, or
    goes through, a symbolic link is refused, not read."""
    for f in files:
        p = bundle / f.path
        try:
            fd = _open_in(bundle, f.path)
        except FileNotFoundError:
            raise ChecksumError(
                f"{bundle}: {f.path} is listed in manifest.json but missing"
            ) from None
        except OSError as exc:  # ELOOP/ENOTDIR: a link where a file or folder should be
            raise BundleError(
                f"{p}: cannot be opened without following a symbolic link ({exc.strerror}); "
                "a bundle holds regular files only"
            ) from None
        h = hashlib.sha256()
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == f.size:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        if size != f.size:
            raise ChecksumError(
                f"{p}: {size} bytes but the manifest says {f.size}: the file was cut short or "
                "changed in transfer; submit the bundle again"
            )
        digest = h.hexdigest()
        if digest != f.sha256:
            raise ChecksumError(
                f"{p}: SHA-256 {digest[:16]}… differs from the manifest's {f.sha256[:16]}…: the "
                "file changed after packaging; submit the bundle again"
            )
