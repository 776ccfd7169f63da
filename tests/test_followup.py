"""qa.followup: a follow-up that refers back ("he", "there", ellipsis) is searched with the last question."""

from __future__ import annotations

import pytest

import qa
from qa.followup import complete_turns, contextualize, history_turns, needs_context, referent, resolve


def test_history_turns_accepts_strings_dicts_and_answers() -> None:
    ans = qa.Answer(
        question="Who proposed it?", text="Councillor James Whitlock", no_answer=False, confidence=0.9
    )
    no = qa.Answer(question="What about the pike?", text=None, no_answer=True, confidence=0.1)
    turns = history_turns(
        [
            "  First question?  ",
            {"question": "Second?", "answer": "Two"},
            {"question": "Third?", "text": "Three"},
            {"question": "", "answer": "dropped"},
            "   ",
            ans,
            no,
        ]
    )
    assert turns == [
        ("First question?", ""),
        ("Second?", "Two"),
        ("Third?", "Three"),
        ("Who proposed it?", "Councillor James Whitlock"),
        ("What about the pike?", ""),
    ]
    assert history_turns(None) == [] and history_turns([]) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did he say about extradition?", True),
        ("When did it issue it?", True),
        ("Who fled there?", True),
        ("And in 2019?", True),  # almost no content words: an ellipsis
        ("How many nesting herons did the survey count?", False),
        ("Which councillor proposed the ferry change?", False),
    ],
)
def test_needs_context(question: str, expected: bool) -> None:
    assert needs_context(question) is expected


def test_referent_is_the_last_short_answer_or_span() -> None:
    assert referent([{"question": "Who is the president?", "answer": "Tokayev"}]) == "Tokayev"
    long = "President Kassym-Zhomart Tokayev said Kazakhstan must stick to the principle."
    assert referent([{"question": "Who is the president?", "answer": long}]) == ""  # a sentence names nothing
    assert referent([{"question": "What did he say?", "answer": long, "span": "Kazakhstan must stick"}]) == (
        "Kazakhstan must stick")
    assert referent(["Who is the president?"]) == referent([]) == referent(None) == ""


def test_contextualize_adds_the_last_question_only_when_needed() -> None:
    history = [
        "Who is the minister of internal affairs?",
        {"question": "Who is the president?", "answer": "Tokayev"},
    ]
    assert contextualize("What did he say about extradition?", history) == (
        "What did he say about extradition? Who is the president? Tokayev"  # a short answer names "he"
    )
    sentence = {"question": "Who is the president?",
                "answer": "President Kassym-Zhomart Tokayev said Kazakhstan must stick to the principle."}
    assert contextualize("What did he say about extradition?", [sentence]) == (
        "What did he say about extradition? Who is the president?"  # the last question, not a sentence answer
    )
    assert contextualize("Which councillor proposed the ferry change?", history) == (
        "Which councillor proposed the ferry change?"
    )
    assert contextualize("What did he say?", None) == "What did he say?"
    assert contextualize("What did he say?", []) == "What did he say?"


def test_answer_with_history_searches_with_the_previous_question(index: qa.Index) -> None:
    history = ["Who proposed moving the first ferry of the day?"]
    alone = qa.answer("What time did he want?", index=index, threshold=0.0)
    follow = qa.answer("What time did he want?", index=index, history=history, threshold=0.0)
    assert alone.query == "What time did he want?"
    # the bundled reader names who the previous (whole-sentence) answer is about, and "he" becomes that name
    assert follow.query == "What time did James Whitlock want?"
    assert follow.question == "What time did he want?"
    assert follow.citations[0].doc_id == "beta.md" and "six o'clock" in follow.text
    assert qa.verify(follow, index=index) == []


def test_history_with_an_answer_object(index: qa.Index) -> None:
    first = qa.answer("Who proposed moving the first ferry of the day?", index=index, threshold=0.0)
    follow = qa.answer("How did the vote on it go?", index=index, history=[first], threshold=0.0)
    # "it" is not the person a "Who" question asked for, so it stays; the name found in the answer joins the query
    assert follow.query == f"How did the vote on it go? {first.question} James Whitlock"
    assert follow.citations[0].doc_id == "beta.md"


def test_complete_turns_answers_bare_questions_and_keeps_given_answers() -> None:
    asked: list[tuple[str, list]] = []

    def ask(q: str, earlier: list) -> str:
        asked.append((q, earlier))
        return f"answer to {q}"

    turns = complete_turns(["First?", {"question": "Second?", "answer": ""}, {"question": "Third?"},
                            {"question": "Fourth?", "guess": "a guess"}], ask)
    assert turns == [{"question": "First?", "answer": "answer to First?"}, {"question": "Second?", "answer": ""},
                     {"question": "Third?", "answer": "answer to Third?"}, {"question": "Fourth?", "answer": "a guess"}]
    # each bare question is answered with the turns before it, as the chat would have; a turn with a guess was
    # answered (and withheld) already
    assert asked == [("First?", []), ("Third?", turns[:2])]


def test_bare_history_is_answered_as_the_chat_would_have(index: qa.Index) -> None:
    first = qa.answer("Who proposed moving the first ferry of the day?", index=index, threshold=0.0)
    q = "What time did he want?"
    from_strings = qa.answer(q, index=index, history=[first.question], threshold=0.0)
    from_turns = qa.answer(q, index=index, history=[{"question": first.question, "answer": first.text}],
                           threshold=0.0)
    assert (from_strings.text, from_strings.confidence) == (from_turns.text, from_turns.confidence)


def test_the_previous_answer_is_found_where_it_stands(index: qa.Index) -> None:
    from qa.answering import Answerer
    from qa.retrieval import rank

    first = qa.answer("Who proposed moving the first ferry of the day?", index=index, threshold=0.0)
    ans = Answerer(index)
    doc_no, sid = ans._anchor(first.text, rank(index, "ferry", k=3))
    c = index.corpus
    assert c.docs[doc_no].doc_id == first.citations[0].doc_id
    assert c.s_start[sid] <= first.citations[0].start < c.s_end[sid]
    assert ans._anchor("words that stand nowhere in the documents", rank(index, "ferry", k=3)) is None
    # sentences just after the previous answer carry the follow-up feature; the answer's own does not
    cands = ans._sentence_candidates(rank(index, "What time? ferry", k=3), "What time?", [0, 1, 2], None, (doc_no, sid))
    near = {cd.sentence: cd.features["near_previous"] for cd in cands}
    assert near[sid] == 0.0 and any(v > 0 for v in near.values())
    for s, v in near.items():
        same_doc = int(c.p_doc[c.s_passage[s]]) == doc_no
        assert v == (1.0 / abs(s - sid) if same_doc and 1 <= abs(s - sid) <= 3 else 0.0)


@pytest.mark.parametrize(
    ("last_question", "last_answer", "question", "expected"),
    [
        # "Who is ...?": "he" is whoever the question named or described, whatever the answer was
        ("Who is Temur Umarov?", "an expert", "What does he say?", "What does Temur Umarov say?"),
        ("Who is the president of Uzbekistan?", "Spiritual Administration", "Which minister did he fire?",
         "Which minister did the president of Uzbekistan fire?"),
        # "Where did NAME ...?": the subject after the auxiliary
        ("Where did Tokayev give his address?", "Astana", "What did he urge there?", "What did Tokayev urge there?"),
        ("Which city did Tokayev address the nation from?", "Astana", "Who attended his speech?",
         "Who attended Tokayev’s speech?"),
        # the question word is the subject: the answer is what "he" or "it" is
        ("Which Uzbek body issued a fatwa?", "the Spiritual Administration", "When did it issue it?",
         "When did the Spiritual Administration issue it?"),
        ("Who proposed the change?", "James Whitlock", "How did the vote on it go?", "How did the vote on it go?"),
        ("What did Putin claim about statehood?", "Kazakhs never had a state", "In what year did he say it?",
         "In what year did Putin say Kazakhs never had a state?"),
        # "her" before a noun is possessive, elsewhere it is the object
        ("Who is Anna Berg?", "", "Who hired her?", "Who hired Anna Berg?"),
        ("Who is Anna Berg?", "", "Where is her office?", "Where is Anna Berg’s office?"),
        # nothing known to stand for the pronoun: the question is left as it is
        ("Which blogger spoke to Al Jazeera?", "", "According to him, how is it seen?",
         "According to him, how is it seen?"),
        ("Tell me about the ferry.", "The ferry leaves at six.", "When does it leave?", "When does it leave?"),
        # a long answer is a sentence, not a name
        ("Which group commented?", "The group said many things about the newly mobilised Russians on Tuesday",
         "Where is it based?", "Where is it based?"),
    ],
)
def test_resolve_fills_in_what_a_pronoun_refers_to(last_question: str, last_answer: str, question: str,
                                                    expected: str) -> None:
    assert resolve(question, [{"question": last_question, "answer": last_answer}]) == expected
    assert resolve(question, []) == question


def test_without_a_reader_a_sentence_answer_is_not_reduced_to_a_name(index: qa.Index) -> None:
    from dataclasses import replace

    from qa.answering import Answerer

    ans = Answerer(index, replace(index.config, reader="none"))
    assert ans.span_reader is None
    follow = ans.answer("What time did he want?", history=["Who proposed moving the first ferry of the day?"],
                        threshold=0.0)
    assert follow.query == "What time did he want? Who proposed moving the first ferry of the day?"
    assert follow.citations[0].doc_id == "beta.md" and "six o'clock" in follow.text


def test_a_withheld_turn_stands_for_its_best_guess() -> None:
    guess = qa.Citation(doc_id="beta.md", start=0, end=14, quote="James Whitlock", sentence_start=0, sentence_end=40,
                        passage_start=0, passage_end=40)
    withheld = qa.Answer(question="Who proposed it?", text=None, no_answer=True, confidence=0.1, withheld=guess)
    assert history_turns([withheld]) == [("Who proposed it?", "James Whitlock")]
    assert history_turns([{"question": "Who?", "answer": "", "guess": "Whitlock"}]) == [("Who?", "Whitlock")]
    # a given answer comes first; the guess only fills in for a withheld one
    assert history_turns([{"question": "Who?", "answer": "Tokayev", "guess": "Whitlock"}]) == [("Who?", "Tokayev")]
    assert referent([withheld]) == "James Whitlock"


def test_a_follow_up_after_a_withheld_answer_refers_to_its_guess(index: qa.Index) -> None:
    first_q = "Who proposed moving the first ferry of the day?"
    # everything is withheld at threshold 1: the earlier question too, yet its best guess names "he"
    first = qa.answer(first_q, index=index, threshold=1.0)
    assert first.no_answer and first.withheld is not None and "Whitlock" in first.withheld.quote
    from_question = qa.answer("What time did he want?", index=index, history=[first_q], threshold=1.0)
    assert from_question.query == "What time did James Whitlock want?"
    # the chat passes the guess with the withheld turn; an Answer object carries it itself
    turn = {"question": first_q, "answer": "", "guess": first.withheld.quote}
    for history in ([turn], [first]):
        assert qa.answer("What time did he want?", index=index, history=history, threshold=1.0).query == (
            from_question.query)
    # without a guess a withheld turn names nothing, and the previous question is searched with instead
    bare = qa.answer("What time did he want?", index=index, history=[{"question": first_q, "answer": ""}],
                     threshold=1.0)
    assert bare.query == f"What time did he want? {first_q}"


def test_it_after_a_statement_is_what_was_quoted(index: qa.Index) -> None:
    # "What did X say?" was answered with a whole sentence: "it" is the statement, the words in quotation marks
    # (not a name the reader would pick out of the sentence)
    said = "James Whitlock, who chairs the harbour board in Oban, said “the timetable must change” on Tuesday."
    history = [{"question": "What did James Whitlock say about the ferry?", "answer": said}]
    follow = qa.answer("When did he say it?", index=index, history=history, threshold=0.0)
    # (the reader alone picks "the timetable" out of that sentence)
    assert follow.query.startswith("When did James Whitlock say the timetable must change?")
    # another kind of question: the reader names what the sentence answers
    other = [{"question": "Who spoke at the meeting about the ferry?", "answer": said}]
    assert "the timetable must change" not in qa.answer("When did he say it?", index=index, history=other,
                                                         threshold=0.0).query


def test_a_huge_previous_answer_is_not_read_again(index: qa.Index) -> None:
    # a program may pass any text as the previous answer; past NARROW_MAX_WORDS the reader does not read it
    from qa.answering import NARROW_MAX_WORDS

    said = "James Whitlock proposed moving the first ferry of the day. "  # 10 words
    history = [{"question": "Who proposed moving the first ferry of the day?",
                "answer": said * (NARROW_MAX_WORDS // 10 + 1)}]
    follow = qa.answer("What time did he want?", index=index, history=history, threshold=0.0)
    assert follow.query == "What time did he want? Who proposed moving the first ferry of the day?"
    shorter = [{"question": history[0]["question"], "answer": said * 3}]
    assert qa.answer("What time did he want?", index=index, history=shorter, threshold=0.0).query == (
        "What time did James Whitlock want?")
