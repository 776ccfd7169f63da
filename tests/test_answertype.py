"""Expected answer types: what a question asks for, and whether a sentence offers it."""

from __future__ import annotations

import pytest

from qa.answertype import (
    DATE,
    NAME,
    NUMBER,
    adds_nothing,
    asks_statement,
    expected_type,
    offers,
    quoted,
    says_unknown,
)


@pytest.mark.parametrize(("question", "kind"), [
    ("How many Russians fled to Kazakhstan?", NUMBER),
    ("What percentage of the population is ethnic Russian?", NUMBER),
    ("How old is he?", NUMBER),
    ("When did it issue it?", DATE),
    ("In what year did he say it?", DATE),
    ("Who is the minister of internal affairs?", NAME),
    ("What is the name of his gallery?", NAME),
    ("Which city did Tokayev speak from?", NAME),
    ("What did he say about extradition?", None),
    ("Why are they leaving?", None),
])
def test_expected_type(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


def test_offers_needs_something_the_question_does_not_already_say() -> None:
    q = "How many Russians entered Kazakhstan after September 21?"
    assert offers(NUMBER, "Almost 100,000 Russians entered Kazakhstan.", q)
    assert not offers(NUMBER, "Russians entered Kazakhstan after September 21.", q)
    assert offers(NUMBER, "Dozens of Russians came.", q)
    assert offers(DATE, "It happened in 2013.", "When did it happen?")
    assert not offers(DATE, "It happened after the war.", "When did it happen?")
    # month names count only capitalised: "may" and "march" in lower case are a verb
    assert not offers(DATE, "One reason may be that they march on.", "In what year did he say it?")
    assert offers(DATE, "He said it in May.", "When did he say it?")
    assert offers(DATE, "He said it in MARCH and again next week.", "When did he say it?")
    assert offers(NAME, "The minister, Marat Akhmetzhanov, said so.", "Who is the minister?")
    assert not offers(NAME, "The minister said so.", "Who is the minister?")
    assert not offers(NAME, "I moved to my parents' place.", "What is the surname of Aleksey?")
    assert offers(None, "anything", "Why?")


@pytest.mark.parametrize(("answer", "question", "referent", "nothing"), [
    ("the Scotland Act", "What act convened the old parliament of Scotland?", "", True),  # its words, reordered
    ("Timur Karpov", "What is the name of his gallery?", "Timur Karpov", True),  # what "his" refers to
    ("Timur Karpov", "What is the name of his gallery?", "", False),
    ("the Ilkhom gallery", "What is the name of his gallery?", "Timur Karpov", False),  # one new word is enough
    ("Kazakhstan", "Did more Russians go to Kazakhstan or to Georgia?", "", False),  # a choice: one of its words
    ("2013", "In what year did Putin say it?", "", False),
    ("", "Who is he?", "", False),
    ("’", "Who is he?", "", False),  # no word at all
])
def test_adds_nothing(answer: str, question: str, referent: str, nothing: bool) -> None:
    assert adds_nothing(answer, question, referent) is nothing


def test_says_unknown() -> None:
    assert says_unknown("Kyrgyz migration officials have not reported the number of Russians who arrived.")
    assert says_unknown("It is unclear how these people can adapt.")
    assert not says_unknown("Almost 100,000 Russians entered Kazakhstan.")


@pytest.mark.parametrize(("question", "statement"), [
    ("What did he say about extradition?", True),
    ("What did the minister of internal affairs say about extradition?", True),
    ("What did Tokayev say?", True),
    ("what has the ministry claimed about the border", True),
    ("What did he say Tashkent's silence denotes?", False),  # goes on past the verb: asks for a phrase
    ("What has the Kazakh government said it will not help Russia get around?", False),
    ("What did he urge there?", False),
    ("Who said it?", False),
    ("What is the capital?", False),
])
def test_asks_statement(question: str, statement: bool) -> None:
    assert asks_statement(question) is statement


@pytest.mark.parametrize(("sentence", "said"), [
    ("One reason may be that Mr. Putin has said “Kazakhs never had a state,” a claim similar to another.",
     "Kazakhs never had a state"),
    ("He urged ‘unity, common sense and patience’ in his address.", "unity, common sense and patience"),
    ('The mayor said "we will stay." Then she left.', "we will stay"),
    ("“No,” he said, “the ferry leaves at six o’clock sharp.”", "the ferry leaves at six o’clock sharp"),  # longest
    ("Tokayev’s government has not said anything.", ""),  # an apostrophe is not a quotation mark
    ("Putin claimed that ‘Kazakhs didn’t have a state’ before Russia came along.", "Kazakhs didn’t have a state"),
    ("Nothing is quoted here.", ""),
])
def test_quoted(sentence: str, said: str) -> None:
    assert quoted(sentence) == said
