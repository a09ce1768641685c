"""Errors of the consent package: small named classes, one docstring each."""


class ConsentError(ValueError):
    """Base class of every consent/ error; the message says what, where and how to fix it."""


class TagsError(ConsentError):
    """A data file's mandatory tags are missing, malformed, or do not match their signature."""
