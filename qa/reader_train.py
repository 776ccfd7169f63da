"""Train the project's extractive reader: a span head on a small transformer, from SQuAD-format data.

``qa train-reader --data A.json --data B.json --out DIR`` fine-tunes ``--base`` (default: the packaged
all-MiniLM-L6-v2 weights) with a question-answering head, the usual recipe for SQuAD 2.0 readers:

* each (question, context) pair is cut into windows of ``max_length`` tokens overlapping by ``stride``;
* a window that holds the whole answer is labelled with its first and last token; a window without it,
  and every unanswerable question, points at the [CLS] token, which becomes the model's "no answer" score;
* AdamW, linear warm-up then linear decay, bf16 autocast on a GPU; seeded, so a run is reproducible on the
  same hardware.

The result is saved as fp16 safetensors with its tokenizer, ``training.json`` (recipe, data hashes, loss
curve, scores) and a model card. Evaluation reads each question's own paragraph (``--eval`` takes more
SQuAD-format files; ``--eval-open DOCS QUESTIONS`` the gold paragraphs of a squad2-open style set).

Nothing here runs in the tests with real data: they train a tiny model for a few steps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .embedding import quiet_transformers, resolve_model_path
from .errors import QAError
from .files import replace_dir, staging_dir
from .reader import best_spans, finish_span
from .textnorm import exact_score, f1_score

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    qid: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]  # (text, character start in context); empty: unanswerable
    article: str = ""  # which article of its file the context comes from (distractors are drawn from it)


@dataclass
class Recipe:
    base: str = "all-MiniLM-L6-v2"
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_length: int = 384
    stride: int = 128
    max_answer_tokens: int = 30
    seed: int = 0
    device: str = ""
    limit: int | None = None
    negatives: int = 0
    windows: int | None = None  # read as the engine reads: sentence windows after this many lead-in sentences
    hard_negatives: bool = False  # a window's "no answer" sentence: the one the engine would score best, not random
    shared_norm: float = 0.0  # weight of a loss comparing a question's windows with each other (see train())
    swaps: float = 0.0  # share of answerable examples also given with a name of the question swapped, unanswerable
    data: list[str] = field(default_factory=list)


# -- data ----------------------------------------------------------------------------------------------------
def load_squad(path: str | Path) -> list[Example]:
    """The examples of a SQuAD-format file (``data → paragraphs → context, qas``); answers are checked.

    Raises:
        QAError: a missing or unreadable file, or one that is not SQuAD-format JSON (one line saying why).
    """
    try:
        return _parse_squad(json.loads(Path(path).read_text(encoding="utf-8")), path)
    except OSError as exc:
        raise QAError(f"cannot read training data {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise QAError(f"{path}: not SQuAD-format data ({exc.__class__.__name__}: {str(exc)[:100]})") from exc


def _parse_squad(raw: Any, path: str | Path) -> list[Example]:
    out: list[Example] = []
    for a_i, article in enumerate(raw["data"]):
        name = f"{Path(path).name}#{a_i}"
        for para in article["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                answers = []
                if not qa.get("is_impossible", False):
                    for a in qa["answers"]:
                        s = int(a["answer_start"])
                        if ctx[s:s + len(a["text"])] != a["text"]:
                            raise QAError(f"{path}: answer of {qa['id']} is not at its offset")
                        answers.append((a["text"], s))
                out.append(Example(str(qa["id"]), qa["question"], ctx, tuple(answers), name))
    return out


def add_distractors(examples: Sequence[Example], per_question: int, seed: int = 0,
                    pool: Sequence[Example] | None = None) -> list[Example]:
    """``examples`` plus, for each answerable one, ``per_question`` unanswerable copies of its question paired
    with another paragraph of the same article (among ``pool``'s, default ``examples``') that holds none of
    its answers.

    An open-corpus reader mostly reads passages that are about the right subject but do not answer; SQuAD's own
    unanswerable questions (348 of the 12,657 here) teach its "no answer" little about those. Paragraphs of the
    same article are the nearest thing to a retriever's near misses that the training data holds.
    """
    if per_question <= 0:
        return list(examples)
    rng = random.Random(seed)
    by_article: dict[str, dict[str, str]] = {}  # each article's paragraphs, in order, each with its lower case
    for e in pool if pool is not None else examples:
        by_article.setdefault(e.article, {})[e.context] = e.context.lower()
    extra = []
    for e in examples:
        if not e.answers:
            continue
        answers = [text.lower() for text, _ in e.answers]
        others = [c for c, low in by_article.get(e.article, {}).items() if c != e.context
                  and not any(a in low for a in answers)]
        for n, ctx in enumerate(rng.sample(others, min(per_question, len(others)))):
            extra.append(Example(f"{e.qid}~neg{n}", e.question, ctx, (), e.article))
    return [*examples, *extra]


_NAME_RUN = re.compile(r"(?<![\w’'-])[A-Z][\w’'-]*(?: (?:of |the |de |von )?[A-Z][\w’'-]*)*")


def name_runs(text: str, skip_first: bool = True) -> list[tuple[int, int]]:
    """Runs of capitalised words ("Kassym-Jomart Tokayev", "Bank of England") as ``(start, end)`` spans; with
    ``skip_first``, none that starts a sentence or a quotation (its capital says nothing, and a question's first
    word is "How" or "Who")."""
    out = []
    for m in _NAME_RUN.finditer(text):
        before = text[:m.start()].rstrip()
        if skip_first and (not before or before[-1] in ".!?\"“‘:"):
            continue
        out.append((m.start(), m.end()))
    return out


def swap_names(examples: Sequence[Example], rate: float, seed: int = 0) -> list[Example]:
    """``examples`` plus, for a share ``rate`` of the answerable ones, a copy whose question names something
    else, unanswerable: a name of the question that the context holds is replaced by another name of the same
    article (of as many words, where there is one) that shares no word with it and does not stand in the
    answer's sentence. "How many Russians fled to Kazakhstan?" becomes "How many Russians fled to Georgia?"
    beside a sentence about Kazakhstan.

    Entity swaps are among the commonest kinds of SQuAD 2.0's unanswerable questions, and a way the engine's
    "no answer" fails on news: the passage mentions Georgia a sentence later, and the reader answers with
    Kazakhstan's figure. The 348 unanswerable questions of the training data teach the reader little of that.
    Some swaps are noise (an alias of the same thing, a question the swap leaves answerable).
    """
    from .chunking import split_sentences

    if rate <= 0:
        return list(examples)
    rng = random.Random(seed)
    names: dict[str, dict[str, None]] = {}  # each article's names, from its contexts, in order of first appearance
    for context, article in dict.fromkeys((e.context, e.article) for e in examples):
        names.setdefault(article, {}).update((context[a:b], None) for a, b in name_runs(context))
    sentences: dict[str, list[tuple[int, int]]] = {}  # each context's, split once
    extra = []
    for e in examples:
        if not e.answers or rng.random() >= rate:
            continue
        mine = [(a, b) for a, b in name_runs(e.question) if e.question[a:b] in e.context]
        if not mine:
            continue
        a, b = rng.choice(mine)
        old_words = set(e.question[a:b].lower().split())
        text, start = e.answers[0]
        if e.context not in sentences:
            sentences[e.context] = split_sentences(e.context)
        home = next(((s, t) for s, t in sentences[e.context] if s <= start < t), (0, len(e.context)))
        sentence = e.context[home[0]:max(home[1], start + len(text))].lower()
        choices = [n for n in names.get(e.article, ()) if not old_words & set(n.lower().split())
                   and n.lower() not in sentence and n.lower() not in e.question.lower()]
        alike = [n for n in choices if len(n.split()) == len(old_words)]  # a name of as many words, if any
        if choices:
            swapped = e.question[:a] + rng.choice(alike or choices) + e.question[b:]
            extra.append(Example(f"{e.qid}~swap", swapped, e.context, (), e.article))
    logger.info("a name swapped in %d questions, as unanswerable", len(extra))
    return [*examples, *extra]


def sentence_windows(examples: Sequence[Example], lead: int = 1, seed: int = 0,
                     rank: Callable[[Example, list[tuple[int, int]]], Sequence[float] | np.ndarray] | None = None,
                     ) -> list[Example]:
    """``examples`` cut the way the engine reads them (:meth:`qa.answering.Answerer._reader_candidates`): a
    sentence with its neighbours, after ``lead`` sentences of context (within the paragraph here; the engine's
    lead-in may reach into the paragraph before). An answerable example gives the window around its answer's
    sentence and one around a sentence of its paragraph two or more away whose window holds none of its
    answers ("no answer"); an unanswerable one gives a window around a sentence drawn at random.

    The "no answer" sentence is drawn at random, or, given ``rank`` (an example and its context's sentence
    spans → a score per sentence), is the best-scored one: the near miss the engine would also read
    (:func:`sentence_ranker`)."""
    from .chunking import split_sentences

    rng = random.Random(seed)
    sentences: dict[str, list[tuple[int, int]]] = {}
    out: list[Example] = []

    def window(sents: list[tuple[int, int]], i: int) -> tuple[int, int]:
        return sents[max(0, i - 1 - lead)][0], sents[min(len(sents) - 1, i + 1)][1]

    for e in examples:
        sents = sentences.get(e.context)
        if sents is None:
            sents = sentences[e.context] = split_sentences(e.context) or [(0, len(e.context))]
        if not e.answers:
            lo, hi = window(sents, rng.randrange(len(sents)))
            out.append(Example(e.qid + "~w", e.question, e.context[lo:hi], (), e.article))
            continue
        text, start = e.answers[0]
        end = start + len(text)
        i = next((k for k, (a, b) in enumerate(sents) if a <= start < b), 0)
        lo, hi = window(sents, i)
        hi = max(hi, end)
        answers = tuple((t, s - lo) for t, s in e.answers if s >= lo and s + len(t) <= hi)
        out.append(Example(e.qid + "~w", e.question, e.context[lo:hi], answers, e.article))
        golds = [t.lower() for t, _ in e.answers]
        others = [k for k in range(len(sents)) if abs(k - i) > 1]
        rng.shuffle(others)
        if rank is not None and others:
            scores = rank(e, sents)
            others.sort(key=lambda k: -scores[k])  # stable: ties stay in their random order
        for k in others:
            lo, hi = window(sents, k)
            if not any(g in e.context[lo:hi].lower() for g in golds):
                out.append(Example(e.qid + "~wneg", e.question, e.context[lo:hi], (), e.article))
                break
    return out


def sentence_ranker(examples: Sequence[Example]) -> Callable[[Example, list[tuple[int, int]]], np.ndarray]:
    """Scores each sentence of an example's context for its question the way the engine's sentence answerer
    does within one passage (:meth:`qa.answering.Answerer._sentence_candidates`): ``w_answer``'s weights of the
    embedding model's cosine and of the idf-weighted share of the question's terms the sentence holds (idf over
    the training sentences). Every question and sentence is encoded once, here."""
    from .bm25 import BM25, tokenize
    from .chunking import split_sentences
    from .config import Config
    from .embedding import SentenceTransformerEmbedder

    contexts = list(dict.fromkeys(e.context for e in examples))
    spans = {c: split_sentences(c) or [(0, len(c))] for c in contexts}
    texts: list[str] = []
    first: dict[str, int] = {}  # each context's first sentence's row in ``texts``
    for c in contexts:
        first[c] = len(texts)
        texts.extend(c[a:b] for a, b in spans[c])
    questions = list(dict.fromkeys(e.question for e in examples))
    q_row = {q: i for i, q in enumerate(questions)}
    emb = SentenceTransformerEmbedder()
    logger.info("scoring near misses: encoding %d questions and %d sentences", len(questions), len(texts))
    qv, sv = emb.encode_queries(questions), emb.encode_queries(texts)
    bm = BM25(texts)
    s_terms = [set(tokenize(t)) for t in texts]
    wc, wl, _ = Config().w_answer

    def rank(e: Example, sents: list[tuple[int, int]]) -> np.ndarray:
        rows = range(first[e.context], first[e.context] + len(sents))
        q_terms = set(tokenize(e.question))
        cos = sv[list(rows)] @ qv[q_row[e.question]]
        lex = np.array([bm.coverage(q_terms, s_terms[r]) for r in rows])
        return wc * cos + wl * lex

    return rank


def load_open_gold(docs: str | Path, questions: str | Path) -> list[Example]:
    """Answerable questions of a squad2-open style set, each with the blank-line paragraph holding its
    answer (answer offsets made relative to that paragraph)."""
    docs = Path(docs)
    texts: dict[str, str] = {}
    out = []
    for line in Path(questions).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        if q.get("is_impossible") or not q.get("answers"):
            continue
        doc = q["answers"][0]["doc"]
        text = texts.setdefault(doc, (docs / doc).read_text(encoding="utf-8"))
        first = q["answers"][0]["start"]
        p_start = text.rfind("\n\n", 0, first)
        p_start = 0 if p_start < 0 else p_start + 2
        p_end = text.find("\n\n", first)
        p_end = len(text) if p_end < 0 else p_end
        answers = tuple((a["text"], a["start"] - p_start) for a in q["answers"]
                        if a["doc"] == doc and p_start <= a["start"] < p_end)
        out.append(Example(str(q["id"]), q["question"], text[p_start:p_end].rstrip(), answers))
    return out


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def featurize(tokenizer: Any, examples: Sequence[Example], max_length: int, stride: int) -> dict[str, Any]:
    """Windows of every example with their start/end token labels ([CLS] = 0 when the answer is absent)."""
    enc = tokenizer([e.question for e in examples], [e.context for e in examples], truncation="only_second",
                    max_length=max_length, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True)
    starts, ends = [], []
    for w, ex_i in enumerate(enc["overflow_to_sample_mapping"]):
        ex = examples[ex_i]
        seq = enc.sequence_ids(w)
        offs = enc["offset_mapping"][w]
        s_tok = e_tok = 0
        if ex.answers:
            a_text, a_start = ex.answers[0]
            a_end = a_start + len(a_text)
            ctx = [i for i, s in enumerate(seq) if s == 1]
            if ctx and offs[ctx[0]][0] <= a_start and offs[ctx[-1]][1] >= a_end:
                s_tok = next(i for i in ctx if offs[i][1] > a_start)
                e_tok = next(i for i in reversed(ctx) if offs[i][0] < a_end)
        starts.append(s_tok)
        ends.append(e_tok)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            "token_type_ids": enc.get("token_type_ids"), "start_positions": starts, "end_positions": ends,
            "example": list(enc["overflow_to_sample_mapping"])}


# -- reading -------------------------------------------------------------------------------------------------
def predict(model: Any, tokenizer: Any, examples: Sequence[Example], max_length: int = 384, stride: int = 128,
            max_answer_tokens: int = 30, batch_size: int = 128, device: str = "cpu",
            finish: bool = True) -> dict[str, tuple[str, float]]:
    """Best span text and its score minus the null score, per example id (spans only, never [CLS]). The span
    is the one the engine would give (:func:`qa.reader.finish_span`); with ``finish`` off, the tokens' own."""
    import torch

    best: dict[str, tuple[str, float, float]] = {}
    for lo in range(0, len(examples), 256):
        chunk = examples[lo:lo + 256]
        enc = tokenizer([e.question for e in chunk], [e.context for e in chunk], truncation="only_second",
                        max_length=max_length, stride=stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding=True, return_tensors="pt")
        owners = enc.pop("overflow_to_sample_mapping").tolist()
        offsets = enc.pop("offset_mapping").numpy()
        seqs = [np.array([s == 1 for s in enc.sequence_ids(i)]) for i in range(len(owners))]
        for b in range(0, len(owners), batch_size):
            inputs = {k: v[b:b + batch_size].to(device) for k, v in enc.items()}
            with torch.inference_mode(), torch.autocast(device_type="cuda", dtype=torch.bfloat16,
                                                        enabled=device.startswith("cuda")):
                out = model(**inputs)
            st = out.start_logits.float().cpu().numpy()
            en = out.end_logits.float().cpu().numpy()
            for r in range(st.shape[0]):
                w = b + r
                ex = chunk[owners[w]]
                found = best_spans(st[r], en[r], seqs[w], max_answer_tokens)
                if not found:
                    continue
                score, si, ei = found[0]
                null = float(st[r, 0] + en[r, 0])
                if ex.qid not in best or score > best[ex.qid][1]:
                    cs, ce = int(offsets[w, si, 0]), int(offsets[w, ei, 1])
                    if finish:
                        cs, ce = finish_span(ex.context, cs, ce)
                    best[ex.qid] = (ex.context[cs:ce], score, null)
    return {k: (t, s - n) for k, (t, s, n) in best.items()}


def evaluate(model: Any, tokenizer: Any, examples: Sequence[Example], recipe: Recipe, device: str,
             finish: bool = True) -> dict[str, Any]:
    """EM and F1 of the best span over the answerable examples (each against its best-matching gold); the span
    as the engine gives it (``finish``, see :func:`predict`)."""
    answerable = [e for e in examples if e.answers]
    preds = predict(model, tokenizer, answerable, recipe.max_length, recipe.stride, recipe.max_answer_tokens,
                    device=device, finish=finish)
    em = f1 = 0.0
    for e in answerable:
        p = preds.get(e.qid, ("", 0.0))[0]
        em += max(exact_score(p, g) for g, _ in e.answers)
        f1 += max(f1_score(p, g) for g, _ in e.answers)
    n = max(1, len(answerable))
    return {"n": len(answerable), "exact": round(em / n, 4), "f1": round(f1 / n, 4)}


# -- training ------------------------------------------------------------------------------------------------
def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def build_model(base: str) -> tuple[Any, Any]:
    """A tokenizer and a QA model on ``base`` (a path, hub name or the packaged MiniLM); the span head is new."""
    quiet_transformers()
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    path = resolve_model_path(base)
    # float32 whatever the file holds (an fp16 copy included): training keeps fp32 master weights
    return AutoTokenizer.from_pretrained(path), AutoModelForQuestionAnswering.from_pretrained(path).float()


def group_batches(groups: Sequence[Sequence[int]], lengths: Sequence[int], batch_size: int,
                  rng: np.random.Generator, pool: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar length (pools of about ``pool`` batches are sorted by their groups' longest
    window, then cut) in which every group of windows (a question's) stays whole; a batch takes groups until
    it holds ``batch_size`` windows."""
    longest = [max(lengths[i] for i in g) for g in groups]
    order = rng.permutation(len(groups))
    batches: list[np.ndarray] = []
    per_group = round(sum(len(g) for g in groups) / len(groups)) if groups else 1
    span = max(1, batch_size * pool // max(1, per_group))
    for lo in range(0, len(order), span):
        chunk = sorted(order[lo:lo + span], key=lambda g: longest[g])
        cur: list[int] = []
        for g in chunk:
            if cur and len(cur) + len(groups[g]) > batch_size:
                batches.append(np.array(cur))
                cur = []
            cur.extend(groups[g])
        if cur:
            batches.append(np.array(cur))
    return [batches[i] for i in rng.permutation(len(batches))]


def _answer_groups(feats: dict[str, Any], idx: np.ndarray) -> list[list[int]]:
    """Rows of the batch ``idx`` by question, for the questions with an answer in one window and other windows
    beside it (:func:`group_batches` keeps them in one batch); the answer's row first."""
    mine: dict[int, list[int]] = {}
    for r, w in enumerate(idx):
        mine.setdefault(feats["group"][w], []).append(r)
    out = []
    for rows in mine.values():
        pos = [r for r in rows if feats["start_positions"][idx[r]] > 0]
        if len(rows) > 1 and len(pos) == 1:
            out.append(pos + [r for r in rows if r != pos[0]])
    return out


def shared_norm_loss(start: Any, end: Any, batch: dict[str, Any], members: list[list[int]]) -> Any:
    """Clark & Gardner's shared normalisation (2018), on the margins the engine compares: each window's start
    and end scores minus its own [CLS] ("no answer") score, one softmax over the context tokens of all the
    windows of a question, the answer's tokens the target. ``members``: for each question with an answer and
    at least one other window, its rows in the batch, the answer's window first. The engine reads two windows
    a question and answers from the one whose span beats its own "no answer" by more; trained one window at a
    time, the reader is never taught to make those margins comparable."""
    import torch

    ctx = batch["attention_mask"].bool()
    if "token_type_ids" in batch:
        ctx &= batch["token_type_ids"].bool()
    ctx[:, 0] = False
    losses = []
    for rows in members:
        for logits, gold in ((start, batch["start_positions"]), (end, batch["end_positions"])):
            rel = [logits[r][ctx[r]] - logits[r, 0] for r in rows]
            target = int(ctx[rows[0], :gold[rows[0]]].sum())  # the gold token among the first window's context tokens
            want = torch.tensor([target], device=start.device)
            losses.append(torch.nn.functional.cross_entropy(torch.cat(rel)[None], want))
    return torch.stack(losses).mean() if losses else start.sum() * 0.0


def _collate(feats: dict[str, Any], idx: np.ndarray, pad_id: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(feats["input_ids"][i]) for i in idx)
    out = {}
    for col, pad in (("input_ids", pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
        if feats.get(col) is None:
            continue
        rows = [feats[col][i] + [pad] * (width - len(feats[col][i])) for i in idx]
        out[col] = torch.tensor(rows, device=device)
    for col in ("start_positions", "end_positions"):
        out[col] = torch.tensor([feats[col][i] for i in idx], device=device)
    return out


def train(examples: Sequence[Example], recipe: Recipe, out_dir: str | Path,
          evals: Mapping[str, Sequence[Example]] | None = None, model: Any = None, tokenizer: Any = None,
          progress: bool = True, data: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Fine-tune, save to ``out_dir`` after every epoch, evaluate; returns what is written to ``training.json``.

    A run that is stopped keeps its last finished epoch in ``out_dir`` (``training.json`` says which); the
    weights are only replaced once a new epoch's are completely written.
    """
    import torch

    _seed_everything(recipe.seed)
    device = recipe.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if model is None or tokenizer is None:
        tokenizer, model = build_model(recipe.base)
    model.to(device).train()
    t0 = time.perf_counter()
    feats = featurize(tokenizer, examples, recipe.max_length, recipe.stride)
    lengths = [len(x) for x in feats["input_ids"]]
    n = len(lengths)
    rng = np.random.default_rng(recipe.seed)
    # windows batched by question: one each, or with --shared-norm a question's windows (its answer's and its
    # "no answer" ones) together
    questions: list[list[int]] = [[w] for w in range(n)]
    if recipe.shared_norm:
        by_question: dict[str, list[int]] = {}
        for w, ex in enumerate(feats["example"]):
            by_question.setdefault(examples[ex].qid.split("~")[0], []).append(w)
        questions = list(by_question.values())
        feats["group"] = [0] * n
        for g, ws in enumerate(questions):
            for w in ws:
                feats["group"][w] = g
    # packing whole questions, an epoch's batch count depends a little on the shuffle: counted once, for the schedule
    steps_per_epoch = len(group_batches(questions, lengths, recipe.batch_size, np.random.default_rng(recipe.seed)))
    total = steps_per_epoch * recipe.epochs
    warm = max(1, int(recipe.warmup * total))
    decay = ["bias", "LayerNorm.weight", "layer_norm.weight"]
    groups = [
        {"params": [p for nm, p in model.named_parameters() if not any(d in nm for d in decay)],
         "weight_decay": recipe.weight_decay},
        {"params": [p for nm, p in model.named_parameters() if any(d in nm for d in decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=recipe.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    use_bf16 = device.startswith("cuda")
    out = Path(out_dir)
    summary: dict[str, Any] = {
        "recipe": asdict(recipe), "device": device, "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if use_bf16 else None, "threads": torch.get_num_threads(),
        "examples": len(examples), "windows": n, "mean_window_tokens": round(float(np.mean(lengths)), 1),
        "data": data or [], "steps": total, "epochs_done": 0, "log": []}
    base_log = Path(resolve_model_path(recipe.base)) / "training.json"
    if base_log.is_file():  # fine-tuning a reader trained before: keep how that one was made
        try:
            prior = json.loads(base_log.read_text(encoding="utf-8"))
            summary["base_training"] = {k: prior[k] for k in ("recipe", "device", "gpu", "data", "examples", "steps",
                                                              "train_seconds", "scores", "base_training") if k in prior}
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("cannot read how %s was trained (%s): training.json will not say", base_log.parent, exc)
    step = 0
    logger.info("training on %d windows (mean %.0f tokens) from %d examples: %d steps on %s", n,
                np.mean(lengths), len(examples), total, device)
    for epoch in range(recipe.epochs):
        running = 0.0
        for b, idx in enumerate(group_batches(questions, lengths, recipe.batch_size, rng)):
            batch = _collate(feats, idx, tokenizer.pad_token_id or 0, device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_bf16):
                res = model(**batch)
                loss = res.loss
                if recipe.shared_norm:
                    loss = loss + recipe.shared_norm * shared_norm_loss(
                        res.start_logits.float(), res.end_logits.float(), batch, _answer_groups(feats, idx))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running += loss.item()
            step += 1
            if step % 25 == 0 or step == total:
                summary["log"].append({"step": step, "epoch": round(epoch + (b + 1) / steps_per_epoch, 3),
                                       "loss": round(loss.item(), 4), "lr": sched.get_last_lr()[0],
                                       "seconds": round(time.perf_counter() - t0, 1)})
                if progress:
                    logger.info("step %d/%d  loss %.4f  %.0f s", step, total, loss.item(), time.perf_counter() - t0)
        logger.info("epoch %d: mean loss %.4f", epoch + 1, running / steps_per_epoch)
        summary.update(epochs_done=epoch + 1, train_seconds=round(time.perf_counter() - t0, 1))
        save_reader(model, tokenizer, out, summary)
    model.eval()
    summary["scores"] = {name: evaluate(model, tokenizer, ex, recipe, device) for name, ex in (evals or {}).items()}
    save_reader(model, tokenizer, out, summary)
    return summary


def save_reader(model: Any, tokenizer: Any, out: Path, summary: dict[str, Any]) -> None:
    """fp16 safetensors, tokenizer and ``training.json``, written beside and then moved into place."""
    import copy

    tmp = staging_dir(out)
    copy.deepcopy(model).half().save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "training.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    replace_dir(tmp, out)


def data_provenance(paths: Iterable[str]) -> list[dict[str, str]]:
    return [{"file": Path(p).name, "sha256": sha256_of(p)} for p in paths]


def main(args: Any) -> int:
    """``qa train-reader``: see the module docstring."""
    if not 0 <= args.stride < args.max_length // 2:
        raise QAError(f"--stride ({args.stride}) must be at least 0 and less than half of --max-length "
                      f"({args.max_length}): the windows overlap by it, after the question")
    if args.hard_negatives and args.windows is None:
        raise QAError("--hard-negatives chooses the no-answer sentence windows of --windows: give --windows too")
    if not 0 <= args.swaps <= 1:
        raise QAError(f"--swaps is a share of the answerable questions: from 0 to 1, got {args.swaps:g}")
    if args.shared_norm < 0:
        raise QAError(f"--shared-norm is a loss weight: 0 (off) or more, got {args.shared_norm:g}")
    if args.shared_norm and args.windows is None:
        raise QAError("--shared-norm compares the sentence windows of a question (--windows): give --windows too")
    recipe = Recipe(base=args.base, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                    max_length=args.max_length, stride=args.stride, seed=args.seed, device=args.device or "",
                    limit=args.limit, negatives=args.negatives, windows=args.windows,
                    hard_negatives=args.hard_negatives, shared_norm=args.shared_norm, swaps=args.swaps,
                    data=[Path(p).name for p in args.data])
    examples: list[Example] = []
    for path in args.data:
        examples.extend(load_squad(path))
    every = examples
    if recipe.limit:
        examples = random.Random(recipe.seed).sample(examples, min(recipe.limit, len(examples)))
    examples = add_distractors(examples, recipe.negatives, recipe.seed, pool=every)
    if recipe.windows is not None:
        rank = sentence_ranker(examples) if recipe.hard_negatives else None
        examples = sentence_windows(examples, recipe.windows, recipe.seed, rank)
    examples = swap_names(examples, recipe.swaps, recipe.seed)
    evals: dict[str, list[Example]] = {}
    for path in args.eval or []:
        evals[Path(path).stem] = load_squad(path)
    if args.eval_open:
        docs, questions = args.eval_open
        evals[f"{Path(questions).stem} (gold paragraph)"] = load_open_gold(docs, questions)
    summary = train(examples, recipe, args.out, evals, data=data_provenance(args.data))
    for name, s in summary["scores"].items():
        print(f"{name}: n={s['n']} EM {s['exact']:.3f} F1 {s['f1']:.3f}")
    print(f"trained {summary['steps']} steps in {summary['train_seconds']} s on {summary['gpu'] or summary['device']}; "
          f"saved to {args.out}")
    return 0

