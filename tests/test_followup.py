"""qa.followup: a follow-up that refers back ("he", "there", ellipsis) is searched with the last question."""

from __future__ import annotations

import pytest

import qa
from qa.followup import contextualize, history_turns, needs_context


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


def test_contextualize_adds_the_last_question_only_when_needed() -> None:
    history = [
        "Who is the minister of internal affairs?",
        {"question": "Who is the president?", "answer": "Tokayev"},
    ]
    assert contextualize("What did he say about extradition?", history) == (
        "What did he say about extradition? Who is the president?"  # the last question, not its answer
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
    assert follow.query == "What time did he want? Who proposed moving the first ferry of the day?"
    assert follow.question == "What time did he want?"
    assert follow.citations[0].doc_id == "beta.md" and "six o'clock" in follow.text
    assert qa.verify(follow, index=index) == []


def test_history_with_an_answer_object(index: qa.Index) -> None:
    first = qa.answer("Who proposed moving the first ferry of the day?", index=index, threshold=0.0)
    follow = qa.answer("How did the vote on it go?", index=index, history=[first], threshold=0.0)
    assert follow.query == f"How did the vote on it go? {first.question}"
    assert follow.citations[0].doc_id == "beta.md"
