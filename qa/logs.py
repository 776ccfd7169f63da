"""Collecting the library's warnings while a call runs, for callers that show them somewhere else than stderr
(the chat shows an upload's warnings on the page)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def warnings_during(logger: str = "qa") -> Iterator[list[str]]:
    """A list that fills with the one-line text of each warning ``logger`` (and its children) logs inside the
    ``with`` block; the warnings still reach the other handlers as usual. Every thread's warnings are caught,
    so callers that run concurrently should hold a lock of their own around the block."""
    into: list[str] = []
    handler = _Collect(into)
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        yield into
    finally:
        log.removeHandler(handler)
