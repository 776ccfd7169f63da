"""An optional extractive reader: a transformers question-answering model that points at answer spans.

Any ``AutoModelForQuestionAnswering`` checkpoint works (a local path, or a hub name for users with a hub).
Long passages are read in overlapping windows; spans are mapped back to character offsets of the passage,
so answers stay verbatim.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .answertype import COUNT_WORDS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpanGuess:
    context: int  # which of the contexts given to read()
    start: int  # character offsets into that context
    end: int
    score: float  # start + end logit
    null_score: float  # the model's "no answer" logit pair for the window
    part: int = 0  # with read(within=...): which range of the context the span lies in


BUNDLED = "bundled"
#: The names of the shipped reader (``QA_READER``, ``--reader``, ``Reader(...)``).
BUNDLED_NAMES = (BUNDLED, "default")
#: Reader names that turn the reader off (``QA_READER``, ``--reader``): the answer is then the best sentence.
READERS_OFF = ("none", "off", "sentence")
#: Of those, the ones that also keep the bundled reader from its side jobs (naming what a follow-up refers
#: to, re-ranking): ``sentence`` answers with sentences but still uses it there.
NO_MODEL = ("none", "off")


_OPENERS = frozenset("([{\"'“‘«—–/")


def whole_words(text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """Widen ``text[start:end]``, within ``text[lo:hi]``, so that it neither starts nor ends inside a word.
    A model may begin a span at a word piece ("kz" of "Orda.kz", after the full stop); the span then takes in
    the rest of its word, back to a space, an opening quote or bracket, a dash or a slash."""
    hi = len(text) if hi is None else hi
    while start > lo and not text[start - 1].isspace() and text[start - 1] not in _OPENERS:
        start -= 1
    while end < hi and text[end].isalnum():
        end += 1
    if end < hi and text[end] == "." and _DOTTED_END.search(text, start, end):  # "7 a.m" is "7 a.m."
        end += 1
    return start, end


# a span ending in an abbreviation of dotted letters ("a.m", "U.S", "D.C") has lost its last full stop
_DOTTED_END = re.compile(r"(?<![^\W\d_])(?:[A-Za-z]\.)+[A-Za-z]$")


#: Words that qualify what follows, so that a span without them says something else: a negation ("far from
#: monolithic" is not "monolithic") anywhere, an approximation or bound ("about 100,000", "at least dozens")
#: before a number.
_NEGATIONS = "not|never|no longer|far from|hardly"
_BOUNDS = ("at least|at most|more than|less than|fewer than|up to|about|around|approximately|almost|nearly|roughly|"
           "some|over|under")
_QUALIFIER = re.compile(rf"(?:^|(?<=[\s(“\"‘']))({_NEGATIONS}|{_BOUNDS})\s+$", re.IGNORECASE)
_NEGATION = re.compile(rf"(?:{_NEGATIONS})", re.IGNORECASE)
_NUMBER_START = re.compile(rf"[\d$£€]|(?:{COUNT_WORDS})\b", re.IGNORECASE)


def with_qualifier(text: str, start: int, end: int, lo: int = 0) -> int:
    """The start of ``text[start:end]`` taken back over a qualifier just before it (within ``text[lo:]``): a
    negation, or a bound before a number. A reader trained on SQuAD often leaves it out ("monolithic" for "far
    from monolithic", "dozens dead" for "at least dozens dead"), and the span then says something the document
    does not. On squad2-open dev it moves 17 of 1,299 answered spans (contains@1 +4, EM +2)."""
    # the look-behind also sees the text before where the search starts: "not" is never taken out of "cannot"
    m = _QUALIFIER.search(text, max(lo, start - 20), start)
    if m is None or not (_NEGATION.fullmatch(m.group(1)) or _NUMBER_START.match(text, start, end)):
        return start
    return m.start(1)


#: Quotation marks, opening to closing.
_QUOTES = {"“": "”", "‘": "’", "«": "»", "„": "“", '"': '"'}


def whole_quotes(text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """``text[start:end]`` taken over the other half of a quotation mark it holds one half of, where that half
    stands just outside it (within ``text[lo:hi]``): the reader often ends a span on a closing mark and
    :func:`whole_words` stops its start after the opening one, which gives ``Tajik”`` for ``“Tajik”``; a span
    may also end inside a quotation it opens (``called Mr. Putin “comrade``) or start inside one it closes
    (``comrade” and joined him``). Only ever one character wider at either end; nothing is cut. A ’ before a
    letter is an apostrophe ("don’t"), never a closing mark."""
    hi = len(text) if hi is None else hi
    if end - start < 2:
        return start, end
    first, last = text[start], text[end - 1]
    a, b = start, end
    if start > lo and _QUOTES.get(text[start - 1]) == last and text[start - 1] not in text[start:end - 1]:
        a = start - 1
    elif start > lo and (o := text[start - 1]) in _PAIRED:  # the span closes a quotation opened just before it
        i = next((i for i in range(start, end) if _closes(text, i, i + 1, _PAIRED[o])), -1)
        if i > start and o not in text[start:i]:
            a = start - 1
    if end < hi and _QUOTES.get(first) == text[end] and text[end] not in text[start + 1:end]:
        b = end + 1
    elif end < hi:  # the span's last opening mark is left open, and its closing one stands just after the span
        i = max(text.rfind(mark, start, end) for mark in _PAIRED)
        if (i > start and _PAIRED.get(text[i]) == text[end] and not _closes(text, i + 1, end, text[end])
                and not (text[end] == "’" and end + 1 < len(text) and text[end + 1].isalpha())):
            b = end + 1
    return a, b


def finish_span(text: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> tuple[int, int]:
    """The answer span the engine gives for the reader's characters ``text[start:end]``: whole words
    (:func:`whole_words`), with the qualifier before it (:func:`with_qualifier`) and whole quotations
    (:func:`whole_quotes`), within ``text[lo:hi]``. ``Reader.read`` and the training command's evaluation
    both decode with it."""
    start, end = whole_words(text, start, end, lo, hi)
    start = with_qualifier(text, start, end, lo)
    return whole_quotes(text, start, end, lo, hi)


# the pairs whose halves differ, so that which half a mark is can be told ("„" closes with "“", which opens too)
_PAIRED = {"“": "”", "‘": "’", "«": "»"}


def _closes(text: str, lo: int, hi: int, mark: str) -> bool:
    """True when ``mark`` closes something in ``text[lo:hi]`` (a ’ before a letter is an apostrophe)."""
    return any(text[i] == mark and not (mark == "’" and i + 1 < len(text) and text[i + 1].isalpha())
               for i in range(lo, hi))


def best_spans(starts: np.ndarray, ends: np.ndarray, ok: np.ndarray, max_tokens: int,
               top: int = 1) -> list[tuple[float, int, int]]:
    """The ``top`` best token spans among the tokens ``ok``, best first, as (start + end logit, start, end):
    start <= end, at most ``max_tokens`` long. Exact: every start against the ``max_tokens`` ends after it (an
    n-by-max_tokens band). The engine and the training command's evaluation both decode with it."""
    n = len(starts)
    s = np.where(ok, starts, -np.inf)
    e = np.where(ok, ends, -np.inf)
    e = np.concatenate([e, np.full(max_tokens, -np.inf, e.dtype)])  # kept in the logits' precision
    band = s[:, None] + e[np.arange(n)[:, None] + np.arange(max_tokens)[None, :]]  # [start, length - 1]
    flat = band.ravel()
    k = min(top, int(np.isfinite(flat).sum()))
    if k == 0:
        return []
    best = np.argpartition(-flat, k - 1)[:k]
    best = best[np.argsort(-flat[best], kind="stable")]
    return [(float(flat[f]), int(f // max_tokens), int(f // max_tokens + f % max_tokens)) for f in best]


def scaled_margin(raw: float | np.ndarray) -> np.ndarray:
    """A span's score over its "no answer" score, divided by 10 and clipped to [-1, 1]: the reader's confidence
    as the answerer's ``reader`` feature and as the re-ranker's bonus (:mod:`qa.rerank`)."""
    return np.clip(np.asarray(raw, dtype=float) / 10.0, -1.0, 1.0)


def bundled_reader_path() -> str | None:
    """The reader trained by this project and shipped in the package (``qa/data/reader``), if present."""
    from .files import packaged_model

    return packaged_model("data/reader")


def resolve_reader(name: str) -> str:
    """``bundled`` (or ``default``) is the shipped reader; anything else is a path or hub name."""
    if name in BUNDLED_NAMES:
        path = bundled_reader_path()
        if path is None:
            from .errors import QAError

            raise QAError("the bundled reader is not installed (qa/data/reader is missing); "
                          "train one with `qa train-reader` and pass its folder")
        return path
    from .files import local_folder

    return local_folder(name, "reader", "QA_READER / --reader: 'bundled', 'sentence', a local model folder or "
                        "a hub name") or name


class Reader:
    """Reads (question, passage) pairs and proposes answer spans.

    Args:
        model: a path or hub name of an extractive QA model.
        max_length: window length in tokens; ``stride``: overlap between windows.
        max_answer_tokens: longest span considered.
    """

    def __init__(self, model: str, max_length: int = 384, stride: int = 128, max_answer_tokens: int = 30,
                 device: str | None = None, backend: str = "auto") -> None:
        self.model_name = resolve_reader(model)
        bundled = model in BUNDLED_NAMES or self.model_name == bundled_reader_path()
        #: ``bundled`` for the shipped reader, else the folder or hub name (keys the calibration).
        self.model_id = BUNDLED if bundled else (os.path.basename(os.path.normpath(self.model_name)) or self.model_name)
        self.max_length = max_length
        self.stride = stride
        self.max_answer_tokens = max_answer_tokens
        self.device = device or "cpu"
        self.backend = backend

    @cached_property
    def _onnx(self) -> Any:
        """The model under ONNX Runtime (``backend`` auto or onnx, on a CPU), or None to use torch."""
        from . import onnx_backend

        if self.backend == "torch" or self.device != "cpu":
            return None
        model = onnx_backend.load(self.model_name, onnx_backend.QA_HEAD, self.backend,
                                  onnx_backend.exportable(self.model_name), "a local model folder with tokenizer.json")
        if model is None:
            return None
        model.tokenizer.enable_truncation(self.max_length, stride=self.stride, strategy="only_second")
        return model

    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        from .embedding import quiet_transformers

        quiet_transformers()
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from .files import hub_options, loading_model

        with loading_model("reader (QA_READER / --reader)", self.model_name):
            tok = AutoTokenizer.from_pretrained(self.model_name, **hub_options(self.model_name))
            model = AutoModelForQuestionAnswering.from_pretrained(self.model_name, **hub_options(self.model_name))
        if self.device == "cpu":
            model = model.float()  # shipped as fp16; CPUs compute in fp32
        return tok, model.to(self.device).eval()

    def load(self) -> None:
        """Load the model now, under the backend :meth:`read` will use (else at the first read): a reader that
        cannot be loaded is then the first thing said."""
        if self._onnx is None:
            self._loaded  # noqa: B018 - loading is the point

    def _logits_torch(self, question: str, contexts: list[str]) -> tuple[np.ndarray, ...]:
        import torch

        tok, model = self._loaded
        enc = tok(
            [question] * len(contexts), contexts, truncation="only_second", max_length=self.max_length,
            stride=self.stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
            return_tensors="pt",
        )
        ctx_of_window = enc.pop("overflow_to_sample_mapping").numpy()
        offsets = enc.pop("offset_mapping").numpy()
        is_ctx = np.array([[s == 1 for s in enc.sequence_ids(i)] for i in range(len(ctx_of_window))])
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask",
                                                                          "token_type_ids")}
        with torch.inference_mode():
            out = model(**inputs)
        return (ctx_of_window, offsets, is_ctx, out.start_logits.float().cpu().numpy(),
                out.end_logits.float().cpu().numpy())

    def _logits_onnx(self, question: str, contexts: list[str]) -> tuple[np.ndarray, ...]:
        onnx = self._onnx
        encs = onnx.tokenizer.encode_batch([(question, c) for c in contexts])
        windows = [(i, w) for i, e in enumerate(encs) for w in [e, *e.overflowing]]  # as transformers orders them
        shape = (len(windows), max(len(w.ids) for _, w in windows))
        offsets = np.zeros((*shape, 2), np.int64)
        is_ctx = np.zeros(shape, bool)
        starts = np.full(shape, -1e4, np.float32)  # past a window's end: never a span, never its no-answer
        ends = np.full(shape, -1e4, np.float32)
        # One window per run, unpadded: the windows of one question differ in length, and padding them to the
        # longest cost more than the runs' overhead (re-ranking's 10 passages, benchmarks/tune_rerank.py on squad2-open
        # dev, 2 cores: reader p50 573 -> 420 ms, the same spans and scores). The torch path keeps one padded batch.
        for row, (_, w) in enumerate(windows):
            k = len(w.ids)
            offsets[row, :k] = w.offsets
            is_ctx[row, :k] = [s == 1 for s in w.sequence_ids]
            starts[row, :k], ends[row, :k] = (out[0] for out in onnx.run(onnx.batch([w])))
        return np.array([i for i, _ in windows]), offsets, is_ctx, starts, ends

    def read(self, question: str, contexts: list[str], top: int = 5,
             within: list[list[tuple[int, int]]] | None = None) -> list[SpanGuess]:
        """The best spans over all contexts, best first (at most ``top`` per window). With ``within`` (for each
        context, character ranges in it) the best ``top`` spans inside each range instead, each guess naming
        its range as ``part``: one read of a text serves several overlapping places in it."""
        if not contexts:
            return []
        logits = self._logits_onnx if self._onnx is not None else self._logits_torch
        ctx_of_window, offsets, ctx_mask, starts, ends = logits(question, contexts)
        guesses: list[SpanGuess] = []
        for w in range(len(ctx_of_window)):
            c = int(ctx_of_window[w])
            null = float(starts[w, 0] + ends[w, 0])
            ranges = [None] if within is None else within[c]
            for part, rng in enumerate(ranges):
                ok = ctx_mask[w]
                if rng is not None:
                    ok = ok & (offsets[w, :, 0] >= rng[0]) & (offsets[w, :, 1] <= rng[1])
                for score, si, ei in best_spans(starts[w], ends[w], ok, self.max_answer_tokens, top):
                    lo, hi = rng if rng is not None else (0, len(contexts[c]))
                    cs, ce = finish_span(contexts[c], int(offsets[w, si, 0]), int(offsets[w, ei, 1]), lo, hi)
                    if ce > cs:
                        guesses.append(SpanGuess(c, cs, ce, score, null, part))
        guesses.sort(key=lambda g: -g.score)
        return guesses
