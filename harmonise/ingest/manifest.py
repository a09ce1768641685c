"""Ingest stages that read the bundle itself: confinement, the manifest, the checksums and
the reference's contig names (the first stages: nothing else is read before them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harmonise.bundle import (
    MANIFEST,
    check_confined,
    provenance_contigs,
    read_json_object,
    verify_checksums,
)
from harmonise.errors import BundleError
from harmonise.ingest.types import ProgressFn

if TYPE_CHECKING:
    from metadata.manifest import ManifestV1

PROVENANCE = "provenance/provenance.json"


def check_confinement(bundle: Path) -> None:
    """Refuse a bundle with anything that leads outside it, before any byte is read."""
    check_confined(bundle)


def read_manifest(bundle: Path) -> ManifestV1:
    """The bundle's manifest, validated against the metadata model (metadata/)."""
    from metadata.manifest import load_manifest

    if not (bundle / MANIFEST).is_file():
        raise BundleError(f"{bundle}: no {MANIFEST}; is this a submission bundle folder?")
    return load_manifest(bundle / MANIFEST)


def check_checksums(bundle: Path, manifest: ManifestV1, say: ProgressFn) -> None:
    """Every file the manifest lists is there with its size and SHA-256."""
    say("checksums", 0, len(manifest.files))
    verify_checksums(bundle, manifest.files)
    say("checksums", len(manifest.files), len(manifest.files))


def reference_contigs(bundle: Path, manifest: ManifestV1) -> list[str] | None:
    """The reference's contig names as the pipeline's ``provenance.json`` lists them
    (None when the bundle has no provenance or it lists no names)."""
    if PROVENANCE not in [f.path for f in manifest.files]:
        return None
    prov = read_json_object(bundle / PROVENANCE, "provenance.json")  # refused in one line
    return provenance_contigs(prov)
