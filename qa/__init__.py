"""Document-grounded question answering: every answer is a verbatim span of a document, with its citation.

    import qa
    index = qa.load_index(docs="seeds")
    hits = qa.retrieve("Who fled to Kazakhstan?", k=5, index=index)
    a = qa.answer("How many Russians entered Kazakhstan?", index=index)
    problems = qa.verify(a, index=index)

The names below are imported on first use, so ``import qa`` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "answer": "api", "load_index": "api", "retrieve": "api", "verify": "api",
    "Config": "config", "Index": "index", "IndexingInterrupted": "index",
    "DocumentsError": "errors", "IndexFileError": "errors", "QAError": "errors", "QuestionError": "errors",
    "ScopeError": "errors", "ArgumentError": "errors",
    "Answer": "results", "Citation": "results", "Hit": "results", "Passage": "results",
}
__all__ = sorted(_WHERE)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
