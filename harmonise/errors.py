"""Errors of the harmonise package: small named classes, one docstring each.

Every class derives from :class:`HarmoniseError` (a ``ValueError``), so the command line
prints the message as one line and the API answers 4xx with the same words.
"""


class HarmoniseError(ValueError):
    """Base class of harmonise/ errors; the message says what, where and how to fix it."""


class LakeConfigError(HarmoniseError):
    """The lake cannot be opened with the given catalog URL or warehouse."""


class LakeNotInitialisedError(HarmoniseError):
    """The lake tables do not exist yet (run ``oncolake lake init``)."""


class SubmissionError(HarmoniseError):
    """A submission cannot be committed as given (rows of the wrong shape, ids missing)."""


class CommitConflictError(HarmoniseError):
    """Concurrent commits kept conflicting after every retry."""


class UnknownVersionError(HarmoniseError):
    """A lake version or snapshot id that the lake does not hold (or no longer holds)."""


class TamperedFileError(HarmoniseError):
    """A data file's signed tags are missing or do not verify; the file is refused."""
