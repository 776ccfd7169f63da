"""The chat's rendering, without a browser: pure functions from ``qa`` results to inert HTML."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from qa import Answer, Citation, Hit, Passage
from ui import render

DOC = ("Harbour Notes\n\nThe keeper is Miriam Okafor, who wrote <script>window.__pwned=1</script> in the "
       "log. The lamp room <img src=x onerror=\"window.__pwned=1\"> was restored in 1887. Visit "
       "[map](javascript:x) or see **bold** and $x$ and ${window.__pwned=1} and `code`.\n")
DOC_ID = "harbour.txt"
OTHER = "Ferry Times\n\nThe first ferry leaves at six o'clock from the north pier.\n"


def span(text: str, needle: str) -> tuple[int, int]:
    i = text.index(needle)
    return i, i + len(needle)


def make_answer(doc: str = DOC, quote: str = "The keeper is Miriam Okafor", page: int | None = None,
                no_answer: bool = False, confidence: float = 0.83) -> Answer:
    s, e = span(doc, quote)
    ss, se = span(doc, doc[s:].split(". ")[0] + ".") if ". " in doc[s:] else (s, e)
    ps, pe = span(doc, doc.split("\n\n")[1])
    passage = Passage(DOC_ID, ps, pe, doc[ps:pe], title="Harbour Notes")
    other = Passage("ferry.txt", 13, 72, OTHER[13:72], title="Ferry Times")
    hits = (Hit(passage, 0.61, 0.52, 7.25, 0.48, rank=1), Hit(other, 0.12, 0.1, 0.0, 0.09, rank=2))
    cites = () if no_answer else (Citation(DOC_ID, s, e, doc[s:e], ss, se, ps, pe, page),)
    return Answer("Who is the keeper?", None if no_answer else doc[s:e], no_answer, confidence, cites, hits,
                  query="Who is the keeper?")


def docs(doc_id: str) -> str | None:
    return {DOC_ID: DOC, "ferry.txt": OTHER}.get(doc_id)


def visible_text(fragment: str) -> str:
    """What a browser would show: tags dropped, entities decoded, ``<br>`` as a newline."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment.replace("<br>", "\n")))


def tags(fragment: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", fragment)}


SAFE_TAGS = {"div", "p", "strong", "span", "ol", "ul", "li", "blockquote", "mark", "br", "em", "code", "details",
             "summary"}


# -- escaping ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "a & b < c > d \" ' e",
    "**bold** _it_ [x](javascript:alert(1)) `c` $$x$$ ${y} ~~s~~ # h | t \\ !",
])
def test_esc_gives_inert_text_that_reads_the_same(text: str) -> None:
    out = render.esc(text)
    assert not set("<>\"'`*_[]$\\") & set(out.replace("<br>", ""))
    assert html.unescape(out) == text


def test_esc_turns_line_breaks_into_br_so_a_message_has_no_blank_line() -> None:
    out = render.esc("one\n\ntwo\r\nthree")
    assert "\n" not in out and out == "one<br><br>two<br>three"


# -- answers ----------------------------------------------------------------------------------------------


def test_answer_is_bold_with_numbered_citation_naming_document_and_offsets() -> None:
    a = make_answer()
    out = render.render_answer(a, docs, titles={DOC_ID: "Harbour Notes"}, threshold=0.3)
    c = a.citations[0]
    assert f"<strong>{render.esc(a.text)}</strong>" in out
    assert "[1]" in out and "[2]" not in out
    assert DOC_ID in out and f"characters {c.start}–{c.end}" in out
    assert 'title="Harbour Notes"' in out
    assert "confidence 0.83" in out and "threshold 0.30" in out
    assert "\n" not in out  # one HTML block: Markdown never re-reads it


def test_cited_span_is_marked_inside_its_sentence_and_passage() -> None:
    a = make_answer()
    out = render.render_answer(a, docs)
    marks = re.findall(r"<mark>(.*?)</mark>", out)
    assert [html.unescape(m) for m in marks] == [a.citations[0].quote]
    quote = visible_text(out)
    # the sentence around the span is there too, as text
    assert "who wrote <script>window.__pwned=1</script> in the log." in quote


def test_document_markup_is_shown_as_text_never_as_tags() -> None:
    a = make_answer(quote="who wrote <script>window.__pwned=1</script> in the log")
    for out in (render.render_answer(a, docs), render.render_sources(a),
                render.render_no_answer(make_answer(no_answer=True))):
        assert tags(out) <= SAFE_TAGS, tags(out)
        assert "href" not in out and "onerror=" not in out
        assert "<script" not in out.lower() and "<img" not in out.lower()
    marked = re.findall(r"<mark>(.*?)</mark>", render.render_answer(a, docs))
    assert html.unescape(marked[0]) == "who wrote <script>window.__pwned=1</script> in the log"


def test_page_is_named_when_the_citation_has_one() -> None:
    out = render.render_answer(make_answer(page=4), docs)
    assert "page 4, characters" in out
    assert "page" not in render.render_answer(make_answer(), docs).split("qa-where")[1][:30]


def test_without_document_text_the_quote_alone_is_marked() -> None:
    a = make_answer()
    out = render.render_answer(a, None)
    assert re.findall(r"<mark>(.*?)</mark>", out) == [render.esc(a.citations[0].quote)]


def test_long_passage_is_clipped_around_the_sentence_with_ellipses() -> None:
    filler = " ".join(f"word{i}" for i in range(400))
    doc = f"{filler}. The keeper is Miriam Okafor. {filler}.\n"
    s, e = span(doc, "The keeper is Miriam Okafor")
    c = Citation("long.txt", s, e, doc[s:e], s, e + 1, 0, len(doc) - 1)
    out = render.cited_context(c, doc, context_chars=100)
    text = visible_text(out)
    assert text.startswith("… ") and text.endswith(" …")
    assert "The keeper is Miriam Okafor." in text and len(text) < 400
    assert text[2:6] == "word" and text[-6:-2].rstrip(".").isalnum()  # cut between words


def test_answer_from_to_dict_renders_the_same() -> None:
    a = make_answer()
    assert render.render_answer(a.to_dict(), docs) == render.render_answer(a, docs)
    assert render.render_sources(a.to_dict()) == render.render_sources(a)


# -- no answer and sources --------------------------------------------------------------------------------


def test_no_answer_says_so_plainly_and_lists_nearest_passages() -> None:
    a = make_answer(no_answer=True, confidence=0.12)
    out = render.render_answer(a, docs, threshold=0.3)
    text = visible_text(out)
    assert "The documents do not say." in text
    assert "confidence 0.12" in text and "Nearest passages" in text
    assert DOC_ID in text and "ferry.txt" in text
    assert "<mark>" not in out


def test_sources_show_every_passage_with_its_scores_and_mark_the_cited_span() -> None:
    a = make_answer()
    out = render.render_sources(a)
    text = visible_text(out)
    assert "#1" in text and "#2" in text
    assert "score 0.610 · dense 0.520 · BM25 7.25 · sentence 0.480" in text
    assert [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", out)] == [a.citations[0].quote]


def test_a_re_ranked_source_leads_with_the_score_it_is_ordered_by() -> None:
    a = make_answer()
    first = replace(a.passages[0], reader_score=6.0, rerank_score=1.3)
    text = visible_text(render.render_sources(replace(a, passages=(first, *a.passages[1:]))))
    assert "re-ranked 1.300 · retrieval 0.610 · dense 0.520 · BM25 7.25 · sentence 0.480 · reader +6.00" in text
    assert "score 0.120 · dense 0.100" in text  # the hit that was not re-ranked


def test_sources_say_what_was_searched_for_when_a_follow_up_was_expanded() -> None:
    a = make_answer()
    expanded = Answer("What did he write?", a.text, False, 0.5, a.citations, a.passages,
                      query="What did he write? Who is the keeper?")
    assert "Searched for" in render.render_sources(expanded)
    assert "Searched for" not in render.render_sources(a)


def test_answer_messages_put_sources_in_a_collapsed_section() -> None:
    msgs = render.answer_messages(make_answer(), docs)
    assert [m["role"] for m in msgs] == ["assistant"]  # one message: the answer and, collapsed, its sources
    content = msgs[0]["content"]
    sections = re.findall(r"<details([^>]*)><summary>([^<]*)</summary>", content)
    assert [html.unescape(title) for _, title in sections] == ["Sources (2 passages, with retrieval scores)"]
    assert "open" not in sections[0][0]  # closed until opened
    assert content.index('class="qa-answer"') < content.index("<details")
    assert tags(content) <= SAFE_TAGS and "\n\n" not in content  # one HTML block: Markdown never re-reads it


def test_other_answers_come_collapsed_before_the_sources_with_their_level_in_words() -> None:
    a = make_answer()
    alt = replace(a, question=a.question, text="Quayside", confidence=0.21, alternatives=())
    content = render.answer_messages(replace(a, alternatives=(alt,)), docs)[0]["content"]
    titles = [html.unescape(t) for t in re.findall(r"<summary>([^<]*)</summary>", content)]
    assert titles[0] == "Other possible answers (1)" and titles[1].startswith("Sources (")
    assert "confidence 0.21 (low)" in visible_text(content)


def test_question_and_answer_say_whose_they_are_to_a_screen_reader() -> None:
    assert visible_text(render.question_message("Who?")["content"]) == "You asked: Who?"
    assert visible_text(render.render_answer(make_answer(), docs)).startswith("Answer: ")


def test_question_and_notices_are_escaped_single_lines() -> None:
    q = render.question_message("<b>hi</b>")
    assert q["role"] == "user" and "<b>" not in q["content"]
    n = render.notice_message("line one\n  line two <i>x</i>", "error")
    assert visible_text(n["content"]) == "line one line two <i>x</i>"
    assert "qa-error" in n["content"]


def test_documents_panel_escapes_names_and_titles() -> None:
    hostile = {"doc_id": "<img src=x onerror=alert(1)>.txt", "title": "<script>x</script>", "chars": 1234}
    out = render.render_documents([hostile], folder="/tmp/docs")
    assert tags(out) <= SAFE_TAGS
    assert "1,234 characters" in out and "1 document " in out


def test_history_from_turns() -> None:
    turns = [{"question": "Who is the minister?", "answer": "Marat"}, {"question": "And?", "answer": None},
             {"question": "Who else?", "answer": "", "guess": "Tokayev"}]
    assert render.history_from_turns(turns) == [{"question": "Who is the minister?", "answer": "Marat"},
                                                {"question": "And?", "answer": ""},
                                                {"question": "Who else?", "answer": "", "guess": "Tokayev"}]


def test_bidirectional_controls_are_shown_as_code_points_not_obeyed() -> None:
    shown = render.esc("abc\u202edef\u2066g\u2069 \u200f")
    assert "\u202e" not in shown and "\u2066" not in shown and "\u2069" not in shown
    assert "\u2039U+202E\u203a" in shown and "\u2039U+2066\u203a" in shown
    assert "\u200f" in shown  # a plain right-to-left mark reorders nothing and stays


def test_the_confidence_badge_says_withheld_under_the_threshold_and_nests_no_brackets() -> None:
    a = make_answer()
    shown = render.render_answer(a, docs, threshold=0.18)
    assert re.search(r'qa-confidence qa-(high|medium|low)"', shown)
    assert "no-answer threshold 0.18" in visible_text(shown) and "((" not in visible_text(shown)
    withheld = replace(a, text=None, no_answer=True, confidence=0.03, citations=())
    text = visible_text(render.render_answer(withheld, docs, threshold=0.18))
    assert "well enough: confidence 0.03, no-answer threshold 0.18" in text and "(" not in text.split("Nearest")[0]
    assert "qa-withheld" in render.render_answer(withheld, docs, threshold=0.18)


def test_a_question_limited_to_some_documents_says_so_when_they_do_not_answer() -> None:
    withheld = replace(make_answer(), text=None, no_answer=True, confidence=0.03, citations=())
    text = visible_text(render.render_answer(withheld, docs, threshold=0.18, scope=["002_*.txt", "<b>.md"]))
    assert "Searched only 002_*.txt, <b>.md, as chosen under “Ask only about”." in text
    assert "Searched only" not in visible_text(render.render_answer(withheld, docs, threshold=0.18))
    reply = render.answer_messages(make_answer(), docs, scope=["002_*.txt"])[-1]["content"]
    answer, sources = reply.split("<details", 1)
    assert "Searched only 002_*.txt" in visible_text(answer)  # an answer given says it too
    assert "Searched only 002_*.txt" in visible_text(sources)


def test_sources_explain_their_scores_and_the_badge_names_its_level_in_words() -> None:
    sources = visible_text(render.render_sources(make_answer()))
    assert all(word in sources for word in ("dense", "BM25", "sentence", "reader", "re-ranked"))
    assert "How the passages were ranked" in sources
    for conf, level in ((0.83, "high"), (0.5, "medium"), (0.2, "low")):
        shown = visible_text(render.render_answer(make_answer(confidence=conf), docs, threshold=0.1))
        assert f"confidence {conf:.2f} ({level})" in shown


def test_the_place_holder_while_answering_is_a_status_not_a_reply() -> None:
    msg = render.pending_message()
    assert msg["role"] == "assistant" and 'role="status"' in msg["content"]
    assert "qa-answer" not in msg["content"] and "qa-notice" not in msg["content"]


def test_a_document_name_with_an_invisible_character_does_not_pass_for_another() -> None:
    a = make_answer()
    twin = replace(a, citations=(replace(a.citations[0], doc_id="alpha\u200b.txt"),))
    assert "alpha‹U+200B›.txt" in visible_text(render.render_answer(twin, lambda d: docs(DOC)))
