"""One module per ``oncolake`` sub-command group; each exposes a typer ``app``."""
