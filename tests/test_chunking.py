"""qa.chunking: paragraphs, fragments, sentences and passages are exact character spans; no text is lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import qa
from qa.chunking import (
    approx_tokens,
    chunk_document,
    fold_fragments,
    pack_sentences,
    split_paragraphs,
    split_sentences,
)
from tests.conftest import ALPHA, BETA, SEEDS

SEED_FILES = sorted(SEEDS.glob("*.txt"))


def seed_text(name: str) -> str:
    return (SEEDS / name).read_bytes().decode("utf-8")


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


def uncovered(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Offsets of non-space characters that lie in none of the spans."""
    covered = bytearray(len(text))
    for s, e in spans:
        covered[s:e] = b"\x01" * (e - s)
    return [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]


# -- paragraphs --------------------------------------------------------------------------------------------


def test_blank_lines_separate_paragraphs() -> None:
    text = "First paragraph here.\n\nSecond one,\nhard wrapped over\ntwo lines\n \t \nThird."
    assert texts(text, split_paragraphs(text)) == [
        "First paragraph here.",
        "Second one,\nhard wrapped over\ntwo lines",
        "Third.",
    ]


def test_single_newlines_separate_when_one_paragraph_per_line() -> None:
    text = "Title line\nThe first paragraph ends here.\nThe second one too.\nAnd a third!\n"
    assert texts(text, split_paragraphs(text)) == [
        "Title line",
        "The first paragraph ends here.",
        "The second one too.",
        "And a third!",
    ]


def test_hard_wrapped_prose_is_one_paragraph() -> None:
    text = "This sentence is wrapped\nat a fixed width so that\nmost lines do not end a sentence.\n"
    assert split_paragraphs(text) == [(0, len(text) - 1)]


def test_seed_004_one_paragraph_per_line() -> None:
    text = seed_text("004_c959e5419f16b652.txt")
    assert "\n\n" not in text  # the document has no blank lines at all...
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    # ...and each of its lines is a paragraph.
    assert texts(text, split_paragraphs(text)) == lines


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_paragraph_spans_are_stripped_and_ordered(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    spans = split_paragraphs(text)
    assert spans
    assert all(s < e for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    for s, e in spans:
        assert text[s:e] == text[s:e].strip()
    assert uncovered(text, spans) == []


# -- fragments ---------------------------------------------------------------------------------------------


def test_short_fragments_fold_into_a_neighbour() -> None:
    spans = split_paragraphs(ALPHA)
    assert "AP" in texts(ALPHA, spans) and "Photo: herons at dawn" in texts(ALPHA, spans)
    folded = fold_fragments(ALPHA, spans, min_words=6)
    out = texts(ALPHA, folded)
    # the heading joins the paragraph after it, "AP" and the caption join the following paragraph too
    assert out[0].startswith("Lake Brindle Survey\n\nThe survey of Lake Brindle")
    assert any(t.startswith("AP\n\nThe lake is fed") for t in out)
    assert any(t.startswith("Photo: herons at dawn\n\nLocal fishermen") for t in out)
    assert all(len(re.findall(r"\w+|[^\w\s]", t)) >= 6 for t in out)
    assert uncovered(ALPHA, folded) == []


def test_trailing_fragment_joins_the_previous_paragraph() -> None:
    spans = split_paragraphs(BETA)
    assert texts(BETA, spans)[-1] == "Comments: 0"
    folded = fold_fragments(BETA, spans)
    assert texts(BETA, folded)[-1].endswith("about overtime pay.\nComments: 0")
    assert uncovered(BETA, folded) == []


def test_document_of_fragments_only_is_one_passage() -> None:
    text = "AP\n\nPhoto\n\nComments: 0\n"
    assert texts(text, fold_fragments(text, split_paragraphs(text))) == ["AP\n\nPhoto\n\nComments: 0"]


def test_seed_fragments_are_folded() -> None:
    text = seed_text("001_e7575d7fb8d66b20.txt")
    passages = texts(text, [p for p, _ in chunk_document(text)])
    assert "Comments: 0" not in passages and "First." not in passages
    assert any("Comments: 0" in p for p in passages)


# -- sentences and passages --------------------------------------------------------------------------------


def test_sentence_spans_are_exact_and_cover_the_range() -> None:
    text = "Intro.  Dr. Smith arrived at 5 p.m. on Monday. He said: “Hello!” Then he left…  "
    spans = split_sentences(text)
    out = texts(text, spans)
    assert out[0] == "Intro."
    assert any(t.startswith("Dr. Smith arrived") for t in out)  # "Dr." does not end a sentence
    assert uncovered(text, spans) == []
    assert all(t == t.strip() and t for t in out)


def test_split_sentences_inside_a_range_uses_document_offsets() -> None:
    text = "Ignore this. " + "First one here. Second one there." + " Ignore that."
    start = len("Ignore this. ")
    end = start + len("First one here. Second one there.")
    assert texts(text, split_sentences(text, start, end)) == ["First one here.", "Second one there."]


def _long_paragraph(n: int = 40) -> str:
    return " ".join(
        f"Sentence number {i} talks about the harbour, the ferry and the council vote." for i in range(n)
    )


def test_long_paragraph_split_at_sentence_boundaries_below_max_tokens() -> None:
    text = (
        "Heading of the report\n\n"
        + _long_paragraph()
        + "\n\nA short closing paragraph with six words or more."
    )
    max_tokens = 60
    chunks = chunk_document(text, max_tokens=max_tokens, count=approx_tokens)
    assert len(chunks) > 5
    long_start = text.index("Sentence number 0")
    sentence_bounds = {
        b for s, e in split_sentences(text, long_start, text.index("\n\nA short")) for b in (s, e)
    }
    for (ps, pe), sentences in chunks:
        assert approx_tokens(text[ps:pe]) <= max_tokens or len(sentences) == 1
        if ps > long_start and pe <= text.index("\n\nA short"):
            assert ps in sentence_bounds and pe in sentence_bounds  # cut between sentences only
    assert uncovered(text, [p for p, _ in chunks]) == []


def test_overlong_sentence_is_cut_at_word_boundaries() -> None:
    words = [f"word{i}" for i in range(300)]
    text = " ".join(words) + "."
    spans = pack_sentences([(0, len(text))], text, 40, approx_tokens)
    assert len(spans) > 1
    for s, e in spans:
        assert approx_tokens(text[s:e]) <= 40
        assert (s == 0 or text[s - 1] == " ") and (e == len(text) or text[e] == " ")
    assert uncovered(text, spans) == []


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("max_tokens", [250, 40])
def test_chunk_invariants_on_seeds(path: Path, max_tokens: int) -> None:
    text = path.read_bytes().decode("utf-8")
    chunks = chunk_document(text, max_tokens=max_tokens)
    passages = [p for p, _ in chunks]
    assert uncovered(text, passages) == []  # no text lost
    assert all(a[1] <= b[0] for a, b in zip(passages, passages[1:], strict=False))  # in order, no overlap
    for (ps, pe), sentences in chunks:
        assert text[ps:pe] == text[ps:pe].strip() and pe > ps
        assert sentences
        assert all(ps <= s < e <= pe for s, e in sentences)
        assert uncovered(text[ps:pe], [(s - ps, e - ps) for s, e in sentences]) == []
        if len(sentences) > 1:
            assert approx_tokens(text[ps:pe]) <= max_tokens


# -- through the index -------------------------------------------------------------------------------------


def test_index_passages_and_sentences_equal_the_file_text(index: qa.Index, docs_dir: Path) -> None:
    c = index.corpus
    assert len(index) > 0
    for i in range(len(index)):
        p = index.passage(i)
        doc = index.doc_by_id[p.doc_id]
        assert p.text == doc.text[p.start : p.end]
        if not p.doc_id.endswith(".html"):
            assert p.text == (docs_dir / p.doc_id).read_bytes().decode("utf-8")[p.start : p.end]
        for s in index.sentences_of(i):
            assert p.start <= c.s_start[s] < c.s_end[s] <= p.end
    for doc in index.documents:
        spans = [
            (int(s), int(e))
            for d, s, e in zip(c.p_doc, c.p_start, c.p_end, strict=True)
            if index.documents[int(d)].doc_id == doc.doc_id
        ]
        assert uncovered(doc.text, spans) == []


def test_index_passages_respect_model_token_limit(docs_dir: Path, index_dir: Path) -> None:
    (docs_dir / "long.txt").write_text("Long Report\n\n" + _long_paragraph(80) + "\n", encoding="utf-8")
    config = qa.Config(model="hashing", max_tokens=64)
    index = qa.load_index(docs=docs_dir, index_dir=index_dir, config=config, progress=False)
    long_passages = [index.passage(i) for i in range(len(index)) if index.passage(i).doc_id == "long.txt"]
    assert len(long_passages) > 5
    for p in long_passages:
        prefix = "" if p.text.startswith(p.title) else p.title + "\n"
        assert approx_tokens(prefix + p.text) <= 64


@pytest.mark.parametrize("words", [["river", "border", "Almaty", "steppe"], ["river", "(border)", "Almaty"]],
                         ids=["nothing-ends-a-sentence", "brackets"])
def test_a_long_paragraph_without_sentence_ends_is_segmented_in_stretches_quickly(words: list[str]) -> None:
    import time

    from qa.chunking import SEGMENT_CHARS, _stretches

    text = " ".join(words * 15_000)  # 210,000 to 300,000 characters, no full stop
    t = time.perf_counter()
    spans = split_sentences(text)
    # pysbd alone: about 50 s here, growing with the square of the length; by stretches, a few seconds (one
    # ")" in each, where pysbd may end a sentence), or none where nothing in it can end one
    assert time.perf_counter() - t < (30 if ")" in text else 1)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:], strict=False))
    stretches = _stretches(text, 0, len(text))
    assert all(e - s <= SEGMENT_CHARS for s, e in stretches)
    assert all(text[e - 1] == " " for _, e in stretches[:-1])  # cut after a space, not inside a word
    prose = "The ferry left. " * 1_000  # cut after a sentence end where there is one
    assert all(prose[s:e].endswith(". ") for s, e in _stretches(prose, 0, len(prose))[:-1])


def test_an_overlong_sentence_is_cut_counting_each_passage_a_few_times() -> None:
    calls = []

    def count(text: str) -> int:
        calls.append(len(text))
        return approx_tokens(text)

    text = " ".join(f"w{i}" for i in range(20_000))
    spans = pack_sentences([(0, len(text))], text, 50, count)
    assert uncovered(text, spans) == [] and all(approx_tokens(text[s:e]) <= 50 for s, e in spans)
    # each passage as long as fits: one more word would not
    for s, e in spans[:-1]:
        after = text.find(" ", e + 1)
        assert approx_tokens(text[s:after if after > 0 else len(text)]) > 50
    # found by doubling and halving: about 2 log2(37) counts a passage of 37 words, not 37 (74,000 in all)
    assert len(calls) < 15 * len(spans), (len(calls), len(spans))


def test_a_word_longer_than_a_passage_is_cut_into_passages_that_fit() -> None:
    from qa.chunking import CHARS_PER_TOKEN

    text = "Intro words before it. " + "a" * 50_000 + " and after."
    chunks = chunk_document(text, max_tokens=100)
    assert all(e - s <= 100 * CHARS_PER_TOKEN for (s, e), _ in chunks)
    covered = sorted((s, e) for (s, e), _ in chunks)
    assert covered[0][0] == 0 and covered[-1][1] == len(text)
    assert all(text[b:c].strip() == "" for (_, b), (c, _) in zip(covered, covered[1:], strict=False))
