"""Fine-tune the embedding model for retrieval: questions against the passages and sentences that answer them.

``qa train-retriever --data A.json --data B.json --out DIR`` starts from ``--base`` (default: the packaged
all-MiniLM-L6-v2 weights) and trains the vectors the index is made of, the way the index makes them:

* a passage is its article's title, a newline and the paragraph, and its vector is the mean of its tokens;
* a sentence's vector is the mean of *its* tokens in that same forward pass (see
  :meth:`qa.embedding.SentenceTransformerEmbedder.encode_passages`), so sentences are trained in context;
* a batch holds ``batch_size`` paragraphs drawn from ``articles_per_batch`` articles (paragraphs of one
  article are the near misses retrieval has to tell apart), each with one of its questions;
* the loss is the usual in-batch contrastive one (what sentence-transformers calls
  ``MultipleNegativesRankingLoss``: cross-entropy over scaled cosines), once over the batch's passages and
  once over all the sentences of the batch, the sentence holding the answer being the right one;
* AdamW, linear warm-up then linear decay, seeded.

The result is a sentence-transformers folder (plain Transformer + mean pooling, what the ONNX query encoder
reproduces) with fp16 weights and ``training.json`` (recipe, data hashes, loss curve).
Nothing here runs in the tests with real data: they train a tiny model for a few steps.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import split_sentences
from .embedding import _segments, mean_pool, pool_spans, quiet_transformers, resolve_model_path
from .errors import QAError
from .reader_train import _seed_everything, data_provenance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paragraph:
    article: str  # file#number, which article of its file it comes from
    title: str
    context: str
    questions: tuple[tuple[str, int], ...]  # (question, character start of its first answer in context)

    @property
    def text(self) -> str:
        """What the index embeds: the title on its own line, then the paragraph."""
        return f"{self.title}\n{self.context}" if self.title else self.context

    @property
    def offset(self) -> int:
        return len(self.text) - len(self.context)


@dataclass
class RetrieverRecipe:
    base: str = "all-MiniLM-L6-v2"
    steps: int = 300
    batch_size: int = 32
    articles_per_batch: int = 2
    lr: float = 3e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    scale: float = 20.0
    max_length: int = 256
    sentence_loss: float = 1.0
    seed: int = 0
    device: str = ""
    data: list[str] = field(default_factory=list)


def load_paragraphs(path: str | Path) -> list[Paragraph]:
    """The paragraphs of a SQuAD-format file that have at least one answerable question.

    Raises:
        QAError: a missing or unreadable file, or one that is not SQuAD-format JSON (one line saying why).
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        out = []
        for a_i, article in enumerate(raw["data"]):
            title = str(article.get("title", "")).replace("_", " ")
            for para in article["paragraphs"]:
                qs = tuple((q["question"], int(q["answers"][0]["answer_start"])) for q in para["qas"]
                           if not q.get("is_impossible", False) and q.get("answers"))
                if qs:
                    out.append(Paragraph(f"{Path(path).name}#{a_i}", title, para["context"], qs))
        return out
    except OSError as exc:
        raise QAError(f"cannot read training data {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise QAError(f"{path} is not SQuAD-format JSON ({type(exc).__name__}: {exc})") from exc


def batches(paragraphs: list[Paragraph], recipe: RetrieverRecipe, rng: np.random.Generator) -> list[np.ndarray]:
    """``recipe.steps`` batches of paragraph numbers: each from ``articles_per_batch`` articles, no paragraph
    twice in a batch."""
    by_article: dict[str, list[int]] = {}
    for i, p in enumerate(paragraphs):
        by_article.setdefault(p.article, []).append(i)
    names = sorted(by_article)
    per = max(1, recipe.batch_size // max(1, recipe.articles_per_batch))
    out = []
    for _ in range(recipe.steps):
        chosen = rng.choice(len(names), size=min(recipe.articles_per_batch, len(names)), replace=False)
        idx = np.concatenate([rng.permutation(by_article[names[a]])[:per] for a in chosen])
        out.append(idx)
    return out


def train(paragraphs: list[Paragraph], recipe: RetrieverRecipe, out_dir: str | Path,
          progress: bool = True) -> dict[str, Any]:
    """Fine-tune ``recipe.base`` and save it to ``out_dir``; returns what is written to ``training.json``."""
    import torch
    import torch.nn.functional as F

    quiet_transformers()
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    if not paragraphs:
        raise QAError("no training paragraph with an answerable question")
    _seed_everything(recipe.seed)
    device = recipe.device or ("cuda" if torch.cuda.is_available() else "cpu")
    base = resolve_model_path(recipe.base)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModel.from_pretrained(base).float().to(device).train()
    spans = [[(s + p.offset, e + p.offset) for s, e in split_sentences(p.context)] for p in paragraphs]
    rng = np.random.default_rng(recipe.seed)
    plan = batches(paragraphs, recipe, rng)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, int(recipe.warmup * len(plan)), len(plan))
    log, t0 = [], time.perf_counter()
    for step, idx in enumerate(plan, 1):
        picks = [paragraphs[i].questions[rng.integers(len(paragraphs[i].questions))] for i in idx]
        q_enc = tok([q for q, _ in picks], padding=True, truncation=True, max_length=64, return_tensors="pt")
        p_enc = tok([paragraphs[i].text for i in idx], padding=True, truncation=True,
                    max_length=recipe.max_length, return_offsets_mapping=True, return_tensors="pt")
        seg, n_spans = _segments(p_enc.pop("offset_mapping").numpy(), [spans[i] for i in idx])
        q_vec = mean_pool(model(**{k: v.to(device) for k, v in q_enc.items()}).last_hidden_state,
                          q_enc["attention_mask"].to(device))
        hidden = model(**{k: v.to(device) for k, v in p_enc.items()}).last_hidden_state
        p_vec = mean_pool(hidden, p_enc["attention_mask"].to(device))
        loss_p = _loss(q_vec, p_vec, torch.arange(len(idx), device=device), recipe.scale)
        loss = loss_p
        # the answer's sentence among every sentence of the batch, pooled in context as the index pools it
        s_vec, counts = pool_spans(hidden, seg, n_spans)
        first = np.concatenate([[0], np.cumsum([len(spans[i]) for i in idx])])
        target, rows = [], []
        for r, (i, (_, a_start)) in enumerate(zip(idx, picks)):
            a = a_start + paragraphs[i].offset
            j = next((k for k, (s, e) in enumerate(spans[i]) if s <= a < e), None)
            if j is not None and int(counts[first[r] + j]) > 0:
                rows.append(r)
                target.append(first[r] + j)
        loss_s = torch.zeros((), device=device)
        if rows and recipe.sentence_loss > 0:
            present = counts > 0
            logits = recipe.scale * F.normalize(q_vec[rows], dim=-1) @ F.normalize(s_vec, dim=-1).T
            logits = logits.masked_fill(~present.unsqueeze(0), float("-inf"))
            loss_s = F.cross_entropy(logits, torch.tensor(target, device=device))
            loss = loss + recipe.sentence_loss * loss_s
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        log.append({"step": step, "loss_passage": round(float(loss_p.detach()), 4),
                    "loss_sentence": round(float(loss_s.detach()), 4)})
        if progress and (step % 20 == 0 or step == len(plan)):
            recent = log[-20:]
            logger.info("step %d/%d  passage loss %.3f  sentence loss %.3f  (%.0f s)", step, len(plan),
                        np.mean([x["loss_passage"] for x in recent]), np.mean([x["loss_sentence"] for x in recent]),
                        time.perf_counter() - t0)
    summary = {"recipe": asdict(recipe), "device": device, "seconds": round(time.perf_counter() - t0, 1),
               "paragraphs": len(paragraphs), "questions": sum(len(p.questions) for p in paragraphs),
               "data": data_provenance(recipe.data), "log": log, "base_training": base_training(base)}
    save_retriever(model, tok, Path(out_dir), summary, recipe.max_length)
    return summary


def base_training(base: str) -> dict[str, Any] | None:
    """The ``training.json`` of the model training started from, when it was trained by this command too, so
    a model trained in stages records every stage (None for a model from elsewhere)."""
    record = Path(base) / "training.json"
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None


def _loss(q: Any, p: Any, labels: Any, scale: float) -> Any:
    """sentence-transformers' MultipleNegativesRankingLoss on vectors: cross-entropy over scaled cosines."""
    import torch.nn.functional as F

    return F.cross_entropy(scale * F.normalize(q, dim=-1) @ F.normalize(p, dim=-1).T, labels)


def save_retriever(model: Any, tokenizer: Any, out: Path, summary: dict[str, Any], max_length: int = 256) -> None:
    """A sentence-transformers folder (Transformer, mean Pooling, Normalize), the weights in fp16: the plain
    kind :class:`qa.embedding.SentenceTransformerEmbedder` runs under ONNX Runtime as well as torch."""
    out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    model.float()
    tokenizer.save_pretrained(out)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_length,
                                                               "do_lower_case": False}, indent=2) + "\n")
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": int(model.config.hidden_size), "pooling_mode_cls_token": False,
         "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
         "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    (out / "training.json").write_text(json.dumps(summary, indent=1) + "\n")


def main(args: Any) -> int:
    recipe = RetrieverRecipe(base=args.base, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             articles_per_batch=args.articles_per_batch, seed=args.seed, device=args.device or "",
                             sentence_loss=args.sentence_loss, data=list(args.data))
    paragraphs = [p for path in args.data for p in load_paragraphs(path)]
    logger.info("%d paragraphs, %d questions; %d steps of %d", len(paragraphs),
                sum(len(p.questions) for p in paragraphs), recipe.steps, recipe.batch_size)
    summary = train(paragraphs, recipe, args.out)
    logger.info("saved to %s in %.0f s", args.out, summary["seconds"])
    return 0 if math.isfinite(summary["log"][-1]["loss_passage"]) else 1
