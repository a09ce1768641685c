"""oncolake's composition root: settings, the ``oncolake`` command line and the demo."""

__version__ = "0.1.0"
