"""Errors of the metadata package: small named classes, one docstring each."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """``text`` with its control characters (line breaks…) written as escapes."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class MetadataError(ValueError):
    """Base class of every metadata/ error; the message says what, where and how to fix it."""


@dataclass(frozen=True)
class Issue:
    """One problem in a manifest: the field path (``samples[0].assay.type``) and the message."""

    path: str
    message: str

    def __str__(self) -> str:
        # one line per problem even when a field's name or value holds a line break
        return one_line(f"{self.path or '(manifest)'}: {self.message}")


class ManifestFileError(MetadataError):
    """A manifest file cannot be read: missing, not JSON, or not a JSON object."""


class ManifestValidationError(MetadataError):
    """A manifest breaks the model; ``issues`` lists every problem found, each with its field."""

    def __init__(self, where: str, issues: list[Issue]) -> None:
        self.where = where
        self.issues = list(issues)
        n = len(self.issues)
        lines = "\n".join(f"  - {i}" for i in self.issues)
        super().__init__(f"{where}: {n} problem{'s' if n != 1 else ''} in the manifest:\n{lines}")


class CrossFieldError(MetadataError):
    """Raised inside the model when cross-field rules fail; carries every failed rule's issue."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


class ProvenanceError(MetadataError):
    """A pipeline ``provenance.json`` lacks a field the manifest needs, or has a bad value."""
