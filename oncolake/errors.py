"""How the command line reports user errors: one line, no traceback, non-zero exit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

err_console = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")

#: Exception base classes that are the user's to fix (bad input, bad settings). Each
#: package's error module registers its base class here through ``user_error_types``.
USER_ERROR_TYPES: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, PermissionError)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err_console.print("[bold red]error:[/]", escape(message), markup=True)
    return typer.Exit(code)


@contextmanager
def user_errors(code: int = 1) -> Iterator[None]:
    """Turn the user's errors into one clear line and exit ``code``; let bugs raise."""
    try:
        yield
    except USER_ERROR_TYPES as exc:
        raise fail(str(exc), code) from None


def run_or_fail(fn: Callable[[], T], code: int = 1) -> T:
    """Call ``fn`` under :func:`user_errors`."""
    with user_errors(code):
        return fn()
