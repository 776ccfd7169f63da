"""Document-grounded question answering: every answer is a verbatim span of a document, with its citation.

    import qa
    index = qa.load_index(docs="seeds")
    hits = qa.retrieve("Who fled to Kazakhstan?", k=5, index=index)
    a = qa.answer("How many Russians entered Kazakhstan?", index=index)
    problems = qa.verify(a, index=index)
"""

from .api import answer, load_index, retrieve, verify
from .config import Config
from .errors import DocumentsError, IndexFileError, QAError, QuestionError, ScopeError
from .index import Index
from .results import Answer, Citation, Hit, Passage

__all__ = [
    "Answer", "Citation", "Config", "DocumentsError", "Hit", "Index", "IndexFileError", "Passage", "QAError",
    "QuestionError", "ScopeError", "answer", "load_index", "retrieve", "verify",
]
__version__ = "0.1.0"
