"""Extractive answering: pick verbatim spans from the retrieved passages, cite them, or abstain.

Two answerers share this module:

* the default picks the sentence that best answers the question (its cosine with the question, the share
  of the question's idf-weighted terms it contains, and its passage's retrieval score);
* with a :class:`~qa.reader.Reader`, a QA model points at the exact span inside the best passages.

Either way the answer is ``document_text[start:end]`` and the confidence comes from a calibrated model
(:mod:`qa.calibration`); below the no-answer threshold the answer is withheld.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .answertype import adds_nothing, asks_statement, expected_type, offers, quoted, says_unknown
from .bm25 import tokenize
from .calibration import calibrator_for
from .config import Config
from .display import shows_nothing, without_silent
from .errors import QAError, QuestionError
from .followup import SHORT_ANSWER_WORDS, complete_turns, contextualize, needs_context, referent, resolve, turn_answer
from .index import Index
from .reader import BUNDLED, NO_MODEL, Reader, bundled_reader_path, scaled_margin
from .rerank import rerank, unsure
from .results import Answer, Citation, Hit
from .retrieval import Ranked, rank
from .textnorm import normalize_text

logger = logging.getLogger(__name__)

#: Asked for several answers (``top_n``), the answerer also looks for the others in this many of the best passages.
OTHERS_PASSAGES = 3

#: A previous answer longer than this (a history passed in by a program, not a sentence) is not read again.
NARROW_MAX_WORDS = 200

#: Re-ranking as configured by default, which readers turned off quietly turn off (asked for, it is an error).
DEFAULT_RERANK = (Config.rerank, Config.rerank_margin)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EARLIER = "an earlier question in the history"  # how an error about one of them begins


def clean_question(question: object, max_chars: int) -> str:
    """The question with control characters removed and whitespace collapsed, or a :class:`QuestionError`."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    # a lone surrogate (an undecodable byte in a command-line argument) cannot be encoded: it becomes U+FFFD
    q = _SURROGATE.sub("\ufffd", question)
    # characters that show as nothing split the words they stand in ("Kaz\u200bakhstan" matches nothing)
    q = " ".join(without_silent(_CONTROL.sub(" ", q)).split())
    if shows_nothing(q):
        raise QuestionError("the question is empty: ask something about the documents")
    if len(q) > max_chars:
        raise QuestionError(f"the question is {len(q):,} characters long; the limit is {max_chars:,} "
                            f"(set QA_MAX_QUESTION_CHARS to change it)")
    return q


@dataclass(frozen=True)
class Candidate:
    hit: int  # index into ranked.hits
    sentence: int  # sentence number in the corpus
    start: int  # the answer span, document offsets
    end: int
    score: float
    features: dict[str, float]


@dataclass(frozen=True)
class Reading:
    """What the answerer read for a question: the ranking, the query searched with, where the previous answer
    stands (follow-ups), the positions of the hits read, and the scored candidate answers in them."""

    ranked: Ranked
    query: str
    anchor: tuple[int, int] | None
    read: list[int]
    candidates: list[Candidate]
    #: answers from windows read only to offer other answers (``top_n`` > 1); never the answer itself
    others: list[Candidate] = field(default_factory=list)


class Answerer:
    """Holds the answering settings and the optional reader; :meth:`answer` is the work."""

    def __init__(self, index: Index, config: Config | None = None, reader: Reader | None = None) -> None:
        self.index = index
        self.config = config or index.config
        self.reader = reader
        self.method = f"reader:{reader.model_id}" if reader else "sentence"
        self.calibrator = calibrator_for(index.embedder.model_id, self.method)
        #: The no-answer threshold fitted with the calibration (0.5 where there is none).
        self.default_threshold = self.calibrator.threshold if self.calibrator.threshold is not None else 0.5
        self._last_ranked: tuple[tuple[str, int], Ranked] | None = None

    @cached_property
    def span_reader(self) -> Reader | None:
        """The reader for the answerer's side jobs: naming what a previous whole-sentence answer is about, so
        that a follow-up's "he" or "it" can be resolved, and re-ranking passages (``Config.rerank``). The
        answerer's own reader, else the bundled one (unless ``QA_READER`` is ``none`` or ``off``, or it is not
        installed)."""
        if self.reader is not None:
            return self.reader
        if self.config.reader.lower() in NO_MODEL or bundled_reader_path() is None:
            return None
        from .api import get_reader  # the cached reader; qa.api imports this module

        return get_reader(BUNDLED, self.config)

    def retrieve(self, query: str, k: int, allowed: np.ndarray | None = None, reuse: bool = True) -> Ranked:
        """The ranking of passages for ``query`` (at least ``k``), re-ranked by the reader when the configuration
        asks for it. The last ranking is kept and, with ``reuse``, returned again for the same query, so that
        measuring retrieval and then answering the same question (``qa eval``) ranks once."""
        cfg = self.config
        key = (query, max(k, cfg.rerank))
        if reuse and allowed is None and self._last_ranked is not None and self._last_ranked[0] == key:
            return self._last_ranked[1]
        ranked = rank(self.index, query, k=key[1], config=cfg, allowed=allowed)
        # the reader is loaded only once a ranking needs it (or re-ranking was asked for, to say if it cannot be)
        if cfg.rerank > 1 and (cfg.rerank, cfg.rerank_margin) != DEFAULT_RERANK and self.span_reader is None:
            raise QAError("re-ranking (QA_RERANK) needs a reader, and readers are turned off (QA_READER)")
        if (cfg.rerank > 1 and unsure(np.array([h.score for h in ranked.hits[:2]]), cfg.rerank_margin)
                and self.span_reader is not None):
            ranked = rerank(ranked, query, self.span_reader, cfg.rerank, cfg.w_rerank)
        if allowed is None:
            self._last_ranked = (key, ranked)
        return ranked

    # -- evidence --------------------------------------------------------------------------------------
    def _anchor(self, previous_answer: str, ranked: Ranked) -> tuple[int, int] | None:
        """(document number, sentence id) where the previous answer of the conversation stands: its text is
        verbatim, so it is found in the documents the new question retrieved first, then in any."""
        if not previous_answer:
            return None
        c = self.index.corpus
        order = list(dict.fromkeys([self.index.doc_number[h.doc_id] for h in ranked.hits] + list(range(len(c.docs)))))
        s_doc = None  # each sentence's document number, computed once it is needed
        for d in order:
            pos = c.docs[d].text.find(previous_answer)
            if pos >= 0:
                s_doc = c.p_doc[c.s_passage] if s_doc is None else s_doc
                sids = np.flatnonzero((s_doc == d) & (c.s_start <= pos) & (pos < c.s_end))
                if len(sids):
                    return d, int(sids[0])
        return None

    def _sentence_candidates(self, ranked: Ranked, question: str, read: list[int], query: str | None = None,
                             anchor: tuple[int, int] | None = None) -> list[Candidate]:
        """Every sentence of the passages ``read`` (positions in ``ranked.hits``), scored. For a follow-up
        (``query`` differs from the question) term coverage is the mean of the question's and the whole query's,
        so the new question leads and what it refers back to still counts."""
        c = self.index.corpus
        bm = self.index.bm25
        q_terms = set(tokenize(question))
        x_terms = set(tokenize(query)) if query and query != question else None
        all_terms = q_terms | (x_terms or set())  # what the question asks about, with what it refers back to
        known = sum(bm.knows(t) for t in all_terms) / len(all_terms) if all_terms else 0.0
        rare = max(sorted(all_terms), key=bm.weight) if all_terms else None  # ties go to the first in sorted order
        kind = expected_type(question)
        top = max(h.score for h in ranked.hits) or 1.0  # the first hit's, unless the reader re-ranked them
        wc, wl, wp = self.config.w_answer
        out = []
        for h in read:
            hit = ranked.hits[h]
            p_terms = set(tokenize(hit.text))
            p_lex = bm.coverage(all_terms, p_terms)
            for sid, cos in zip(ranked.sent_ids[h], ranked.sent_cos[h], strict=True):
                doc = c.docs[int(c.p_doc[c.s_passage[sid]])]
                s, e = int(c.s_start[sid]), int(c.s_end[sid])
                text = doc.text[s:e]
                s_terms = set(tokenize(text))
                lex = bm.coverage(q_terms, s_terms)
                if x_terms is not None:
                    lex = 0.5 * (lex + bm.coverage(x_terms, s_terms))
                missing = float(kind is not None and not offers(kind, text, question))
                # a follow-up's answer tends to stand just after (or near) the answer it follows up on
                near = 0.0
                if anchor is not None and int(c.p_doc[c.s_passage[sid]]) == anchor[0]:
                    d = abs(int(sid) - anchor[1])
                    near = 1.0 / d if 1 <= d <= 3 else 0.0
                score = (wc * float(cos) + wl * lex + wp * hit.score / top - self.config.w_type * missing
                         + self.config.w_near * near)
                feats = {"sent_cos": float(cos), "sent_lex": lex, "passage_dense": hit.dense_score,
                         "passage_lex": p_lex, "passage_rel": hit.score / top, "known_terms": known,
                         "rare_in_passage": float(rare is not None and rare in p_terms), "type_missing": missing,
                         "says_unknown": float(says_unknown(text)),
                         "rare_missing": max((bm.weight(t) for t in q_terms - s_terms), default=0.0) / bm.unknown_idf,
                         "near_previous": near}
                out.append(Candidate(h, int(sid), s, e, score, feats))
        return out

    def _reader_candidates(self, ranked: Ranked, question: str, scored: list[Candidate],
                           resolved: str | None = None, which: slice | None = None) -> list[Candidate]:
        """The reader points at a span inside a short window (a sentence and its neighbours) around each of
        the best few sentences; a candidate's score is its sentence's plus the reader's confidence in the
        span over its "no answer" (``w_reader``), so the reader can both sharpen and re-rank the answer.
        Windows of one passage that overlap or touch are read as one text, each keeping its own span; the text
        starts ``reader_lead`` sentences before its first window (context the reader sees but never answers from).
        A span that starts or ends inside a word is widened to the whole word (:func:`qa.reader.whole_words`),
        and one that holds half a quotation to the other half (:func:`qa.reader.whole_quotes`).
        ``resolved`` is a follow-up's question with what it refers to filled in (:func:`qa.followup.resolve`).
        ``scored`` are the sentence candidates, best first; ``which`` picks the windows among them (default: the
        first ``reader_windows``)."""
        assert self.reader is not None
        c = self.index.corpus
        windows = []  # (passage, first sentence, last sentence, the sentence read for, its passage's sentences)
        for cd in scored[which or slice(0, self.config.reader_windows)]:
            p = int(c.s_passage[cd.sentence])
            sids = self.index.sentences_of(p)
            windows.append((p, max(sids.start, cd.sentence - 1), min(sids.stop - 1, cd.sentence + 1), cd, sids))
        texts: list[list] = []  # [passage, first sentence, last sentence, [window numbers]]
        for w in sorted(range(len(windows)), key=lambda w: windows[w][:2]):
            p, a, b = windows[w][:3]
            if texts and texts[-1][0] == p and a <= texts[-1][2] + 1:
                texts[-1][2] = max(b, texts[-1][2])
                texts[-1][3].append(w)
            else:
                texts.append([p, a, b, [w]])
        # each text is read from ``reader_lead`` sentences earlier (same document), which give context only
        starts = []
        for p, a, _, _ in texts:
            first = a
            while first > max(0, a - self.config.reader_lead) and c.p_doc[c.s_passage[first - 1]] == c.p_doc[p]:
                first -= 1
            starts.append(int(c.s_start[first]))
        contexts = [c.docs[int(c.p_doc[p])].text[lo:int(c.s_end[b])] for (p, _, b, _), lo in zip(texts, starts)]
        within = [[(int(c.s_start[windows[w][1]]) - lo, int(c.s_end[windows[w][2]]) - lo) for w in t[3]]
                  for t, lo in zip(texts, starts)]
        out = []
        seen: set[tuple[int, int]] = set()
        statement = asks_statement(resolved or question)
        # best first, one span per window; the reader gets the question with its "he"/"it" resolved (a follow-up)
        for g in self.reader.read(resolved or question, contexts, top=1, within=within):
            if (g.context, g.part) in seen:
                continue
            seen.add((g.context, g.part))
            cd, sids = windows[texts[g.context][3][g.part]][3:]
            s, e = starts[g.context] + g.start, starts[g.context] + g.end
            home = next((int(x) for x in sids if c.s_start[x] <= s < c.s_end[x]), cd.sentence)
            if statement:  # "What did he say about X?": the answer is the statement, its whole sentence
                s, e = min(s, int(c.s_start[home])), max(e, int(c.s_end[home]))
            margin = float(scaled_margin(g.score - g.null_score))
            feats = dict(cd.features, reader=margin)
            out.append(Candidate(cd.hit, home, s, e, cd.score + self.config.w_reader * margin, feats))
        return out

    def _citation(self, ranked: Ranked, cand: Candidate) -> Citation:
        c = self.index.corpus
        hit = ranked.hits[cand.hit]
        doc = self.index.doc_by_id[hit.doc_id]
        sent_end = int(c.s_end[cand.sentence])
        if cand.end > sent_end:  # a reader's span may run on into the next sentences of its passage
            sent_end = max(int(c.s_end[s]) for s in self.index.sentences_of(int(c.s_passage[cand.sentence]))
                           if c.s_start[s] < cand.end)
        return Citation(
            doc_id=hit.doc_id, start=cand.start, end=cand.end, quote=doc.text[cand.start:cand.end],
            sentence_start=int(c.s_start[cand.sentence]), sentence_end=sent_end,
            passage_start=hit.start, passage_end=hit.end, page=doc.page_of(cand.start),
        )

    # -- the answer ------------------------------------------------------------------------------------
    def read(self, question: str, turns: list[dict[str, str]], k: int = 5, n_read: int | None = None,
             allowed: np.ndarray | None = None, more: int = 0) -> Reading:
        """Retrieve for ``question`` (with the conversation's ``turns``) and score every candidate answer in
        the ``n_read`` best passages. ``more``: other answers are also looked for, separately, in the sentences
        not read for the answer among the ``OTHERS_PASSAGES`` best passages (the reader reads that many further
        windows), so that what is read for the answer itself (and so the answer) does not change."""
        cfg = self.config
        n_read = n_read or cfg.read_passages
        resolved = resolve(question, turns)
        query = contextualize(resolved, turns)
        n_looked = max(n_read, OTHERS_PASSAGES) if more > 0 else n_read  # passages looked in, answer and others
        ranked = self.retrieve(query, max(n_looked, k), allowed)
        anchor = self._anchor(turns[-1]["answer"], ranked) if turns and ranked.hits else None
        read = list(range(min(n_read, len(ranked.hits))))
        wider = list(range(len(read), min(n_looked, len(ranked.hits))))
        others: list[Candidate] = []
        if not ranked.hits:
            cands = []
        elif self.reader:
            scored = sorted(self._sentence_candidates(ranked, question, read, query, anchor), key=lambda x: -x.score)
            cands = self._reader_candidates(ranked, question, scored, resolved)
            if more > 0:
                pool = scored[cfg.reader_windows:] + self._sentence_candidates(ranked, question, wider, query, anchor)
                pool.sort(key=lambda x: -x.score)
                others = self._reader_candidates(ranked, question, pool, resolved, slice(0, more))
        else:
            cands = self._sentence_candidates(ranked, question, read, query, anchor)
            others = self._sentence_candidates(ranked, question, wider, query, anchor) if wider else []
        # a span made only of the question's words (or of what a follow-up refers to) answers nothing
        said = referent(turns)
        cands, others = ([x for x in xs if not adds_nothing(self._quote(ranked, x), resolved, said)]
                         for xs in (cands, others))
        return Reading(ranked, query, anchor, read, cands, others)

    def _quote(self, ranked: Ranked, cand: Candidate) -> str:
        return self.index.doc_by_id[ranked.hits[cand.hit].doc_id].text[cand.start:cand.end]

    def conversation(self, question: str, history: object, threshold: float | None = None,
                     allowed: np.ndarray | None = None) -> list[dict[str, str]]:
        """The turns a follow-up leans on (none when ``question`` stands alone); earlier turns given as bare
        questions are answered first, as the chat would have answered them."""
        if not history or not needs_context(question):
            return []
        try:
            turns = complete_turns(history, lambda q, earlier: turn_answer(self.answer(  # type: ignore[arg-type]
                q, history=earlier, threshold=threshold, allowed=allowed)))
        except QuestionError as exc:  # said of an earlier question, not of the one asked
            why = str(exc)
            raise QuestionError(why if why.startswith(_EARLIER) else f"{_EARLIER}: {why}") from None
        last = turns[-1] if turns else None
        if (last and SHORT_ANSWER_WORDS < len(last["answer"].split()) <= NARROW_MAX_WORDS
                and self.span_reader is not None):
            # a sentence answer: the words in it that answer the last question name what the follow-up refers to;
            # when that question asked for a statement ("What did he claim?"), the words quoted are the statement
            said = quoted(last["answer"]) if asks_statement(last["question"]) else ""
            if said:
                turns[-1] = dict(last, span=said)
            else:
                guesses = self.span_reader.read(last["question"], [last["answer"]], top=1)
                if guesses and guesses[0].score > guesses[0].null_score:
                    turns[-1] = dict(last, span=last["answer"][guesses[0].start:guesses[0].end])
        return turns

    def answer(self, question: str, history: object = None, top_n: int = 1, threshold: float | None = None,
               k: int | None = None, allowed: np.ndarray | None = None) -> Answer:
        """Answer ``question`` from the index (see :func:`qa.answer`)."""
        cfg = self.config
        question = clean_question(question, cfg.max_question_chars)
        if threshold is None:
            threshold = cfg.no_answer_threshold if cfg.no_answer_threshold is not None else self.default_threshold
        turns = self.conversation(question, history, threshold, allowed)
        # the reader reads two windows for the answer; to offer others it reads more, apart (Reading.others)
        reading = self.read(question, turns, k=k or 5, allowed=allowed, more=max(0, top_n - 1))
        ranked, query, cands = reading.ranked, reading.query, reading.candidates
        hits: tuple[Hit, ...] = tuple(ranked.hits[: (k or 5)])
        if not cands:
            return Answer(question, None, True, 0.0, (), hits, query, self.method)
        cands.sort(key=lambda x: -x.score)
        groups: list[list[Candidate]] = []
        for cand in cands:
            home = next((g for g in groups if self._same_answer(g[0], cand)), None)
            if home is not None:
                home.append(cand)
            elif len(groups) < top_n:
                groups.append([cand])
        for cand in sorted(reading.others, key=lambda x: -x.score):  # only new answers, never the answer's citations
            if len(groups) < top_n and not any(self._same_answer(g[0], cand) for g in groups):
                groups.append([cand])
        groups[1:] = sorted(groups[1:], key=lambda g: -g[0].score)
        answers: list[Answer] = []
        top = groups[0][0]
        for i, group in enumerate(groups):
            best = group[0]
            # The answer's margin is over the best sentence of another passage, as calibrated, so its
            # confidence does not depend on top_n; another answer's is its distance below the answer.
            runner_up = (next((x.score for x in cands if x.hit != best.hit), best.score) if i == 0 else top.score)
            feats = dict(best.features, margin=float(np.clip(best.score - runner_up, -1, 1)))
            conf = self.calibrator.prob(feats)
            if i > 0:  # ranked below the answer, so never reported as more likely right than it
                conf = min(conf, answers[0].confidence)
            no = conf < threshold
            # one citation per place: the reader's windows of one passage can point at the same span; the same
            # words elsewhere are cited too, where the reader found an answer there (its margin over "no answer"
            # above 0), not where they are only the best of a window that answers nothing
            places: dict[tuple[str, int, int], Citation] = {}
            for x in () if no else group:
                if x is not best and x.features.get("reader", 1.0) <= 0:
                    continue
                cite = self._citation(ranked, x)
                places.setdefault((cite.doc_id, cite.start, cite.end), cite)
            cites = tuple(places.values())
            text = None if no else cites[0].quote
            withheld = self._citation(ranked, best) if no and i == 0 else None  # a withheld alternative is dropped
            answers.append(Answer(question, text, no, conf, cites, hits, query, self.method, withheld=withheld))
        first = answers[0]
        if first.no_answer:  # when the documents do not say, there are no other answers either
            return first
        return replace(first, alternatives=tuple(a for a in answers[1:] if not a.no_answer))

    def _same_answer(self, a: Candidate, b: Candidate) -> bool:
        c = self.index.corpus
        if c.p_doc[c.s_passage[a.sentence]] == c.p_doc[c.s_passage[b.sentence]] and a.start < b.end and b.start < a.end:
            return True
        doc_a = c.docs[int(c.p_doc[c.s_passage[a.sentence]])]
        doc_b = c.docs[int(c.p_doc[c.s_passage[b.sentence]])]
        return normalize_text(doc_a.text[a.start:a.end]) == normalize_text(doc_b.text[b.start:b.end])
