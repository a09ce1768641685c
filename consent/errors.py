"""Errors of the consent package: small named classes, one docstring each."""


class ConsentError(ValueError):
    """Base class of every consent/ error; the message says what, where and how to fix it."""


class TagsError(ConsentError):
    """A data file's mandatory tags are missing, malformed, or do not match their signature."""


class UnknownTermError(ConsentError):
    """A DUO CURIE or shorthand is malformed, unknown in the pinned release, or deprecated."""


class UnknownDiseaseError(ConsentError):
    """A disease code is not an OncoTree code of the pinned release nor a MONDO CURIE."""


class ConsentRecordError(ConsentError):
    """A consent record (FHIR R4 Consent with DUO codes) is malformed or incomplete."""


class PurposeError(ConsentError):
    """A research purpose file is malformed or contradicts itself."""


class WithdrawalError(ConsentError):
    """A withdrawal cannot be recorded or applied (bad patient id, unreadable registry)."""
