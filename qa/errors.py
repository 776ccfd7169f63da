"""Errors the library raises on bad input. Each message is one line that says what was wrong and what to do."""

from __future__ import annotations


class QAError(Exception):
    """Base class: anything a user can cause and fix. The CLI prints it as one line, without a traceback."""


class DocumentsError(QAError):
    """The documents folder is missing, empty or unreadable."""


class QuestionError(QAError):
    """The question is empty or otherwise unusable."""


class IndexFileError(QAError):
    """A saved index cannot be used (wrong model, wrong format, damaged) and could not be rebuilt."""


class ScopeError(QAError):
    """A document filter names documents that are not in the index."""


class ArgumentError(QAError, ValueError):
    """An argument out of its range or of the wrong type (``top_n=0``, ``k="abc"``); a ``ValueError`` too."""
