"""Follow-up questions: fold what a new question refers to ("he", "it", "there"...) back in from the history."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_REFERRING = re.compile(
    r"\b(he|she|it|they|him|her|his|hers|its|them|their|theirs|this|that|these|those|there|then|"
    r"the same|such|one|ones|former|latter)\b",
    re.IGNORECASE,
)
_CONTENT = re.compile(r"\b[a-zA-Z]{4,}\b")
#: An answer this short is a span naming something, not a sentence: a follow-up's query includes it.
SHORT_ANSWER_WORDS = 8


#: The keys of a history turn that say what it answered, in the order they are read: the words that answer it
#: (``span``), the answer shown, the same under its ``Answer`` name, the best guess of a withheld answer.
_ANSWER_KEYS = ("span", "answer", "text", "guess")


def is_turn(turn: Any) -> bool:
    """An earlier question as text, or ``{"question": text, "answer": text}``; the answer may be left out, or
    given as ``span``, ``text`` or, for a withheld answer, ``guess`` (each a string or None)."""
    if isinstance(turn, str):
        return bool(turn.strip())
    return (isinstance(turn, dict) and isinstance(turn.get("question"), str) and bool(turn["question"].strip())
            and all(isinstance(turn[key], str | None) for key in _ANSWER_KEYS if key in turn))


def history_turns(history: Sequence[Any] | None) -> list[tuple[str, str]]:
    """Normalise history to ``[(question, answer_text), ...]``; items may be strings or dicts/objects with
    ``question`` and ``answer`` (or ``text``). A turn whose answer was withheld stands for its best guess
    (a dict's ``guess``, an :class:`~qa.results.Answer`'s ``withheld`` quote, or that of its ``to_dict()``):
    too unsure to give as an answer, it is still the best reading of what that question was about, which is
    what a follow-up refers to."""
    turns = [(_question(item).strip(), turn_answer(item).strip()) for item in history or ()]
    return [(q, a) for q, a in turns if q]


def _question(item: Any) -> str:
    if isinstance(item, str):
        return item
    return str((item.get("question") if isinstance(item, dict) else getattr(item, "question", "")) or "")


def turn_answer(item: Any) -> str:
    """What one turn of history answered, as :func:`history_turns` reads it ("" for a bare question)."""
    if isinstance(item, str):
        return ""
    if isinstance(item, dict):
        ans = next((item[key] for key in _ANSWER_KEYS if item.get(key)), "")
        withheld = item.get("withheld")  # an Answer saved with to_dict() (qa ask --json) whose answer was withheld
        if not ans and isinstance(withheld, dict):
            ans = withheld.get("quote", "")
        return ans if isinstance(ans, str) else ""
    withheld = getattr(item, "withheld", None)
    return str(getattr(item, "text", "") or getattr(withheld, "quote", "") or "")


def complete_turns(history: Sequence[Any] | None, ask: Any) -> list[dict[str, str]]:
    """History as ``[{"question", "answer"}, ...]``. A turn given as a bare question (a string, or a dict
    with none of ``answer``, ``text``, ``span``, ``guess``) is answered first with ``ask(question,
    earlier_turns) -> answer text or ""`` (its best guess where the answer was withheld, as
    :func:`history_turns` reads a withheld turn), as the chat would have answered it, so a follow-up knows
    what the conversation already pointed at."""
    out: list[dict[str, str]] = []
    for item in history or ():
        has_answer = not isinstance(item, str) and (
            any(key in item for key in _ANSWER_KEYS) if isinstance(item, dict) else hasattr(item, "text"))
        q, a = _question(item).strip(), turn_answer(item).strip()
        if not q:
            continue
        if not has_answer:
            a = ask(q, list(out)) or ""
        out.append({"question": q, "answer": a})
    return out


def needs_context(question: str) -> bool:
    """True when a question leans on earlier turns: it uses a referring word, or has almost no content."""
    return bool(_REFERRING.search(question)) or len(_CONTENT.findall(question)) < 2


def referent(history: Sequence[Any] | None) -> str:
    """What a follow-up can refer to in the last turn's answer: its ``span`` or its answer when short (at most
    ``SHORT_ANSWER_WORDS`` words: "Marat Akhmetzhanov"); "" after a whole sentence or no answer."""
    turns = history_turns(history)
    last_a = turns[-1][1] if turns else ""
    return last_a if last_a and len(last_a.split()) <= SHORT_ANSWER_WORDS else ""


def contextualize(question: str, history: Sequence[Any] | None) -> str:
    """The query to search with: the question, plus the last question when the new one refers back to it, plus
    the last answer when that answer is short (a reader's span names what "he" or "it" is: "Marat
    Akhmetzhanov", "the Kazakh interior ministry"; at most ``SHORT_ANSWER_WORDS`` words). A turn's ``span``
    (the words of a whole-sentence answer that answer its question) stands for its answer.

    A whole sentence is left out: on tests/data/seeds-followups.jsonl adding it pulled the previous answer's
    sentence back as the new answer (7 of 12 right, against 9 of 12 without it).
    """
    turns = history_turns(history)
    if not turns or not needs_context(question):
        return question
    last_q, short = turns[-1][0], referent(history)
    return f"{question} {last_q} {short}" if short else f"{question} {last_q}"


# -- resolving what a follow-up refers to ---------------------------------------------------------------
_WH = {"who", "whom", "whose", "what", "which", "where", "when", "why", "how"}
_AUX = {"is", "was", "are", "were", "did", "does", "do", "has", "have", "had", "will", "would", "can", "could"}
_COPULA = {"is", "was", "are", "were"}
_PERSONAL = re.compile(r"\b(he|she|him|his|her)\b", re.IGNORECASE)
_IT = re.compile(r"\bit\b", re.IGNORECASE)


def _capitalised_run(words: list[str]) -> str:
    run = []
    for w in words:
        if not w[:1].isupper():
            break
        run.append(w)
    return " ".join(run)


def _referents(last_q: str, last_a: str) -> tuple[str, str]:
    """(who "he"/"she" is, what "it" is) after the question ``last_q`` answered with the short span ``last_a``
    ("" where unknown). The pronoun of a follow-up is taken to point at the subject of the last question: the
    thing asked for when the question word is the subject ("Who is the president of Kazakhstan?", "Which
    ministry gave that figure?"), else the name after the auxiliary ("Where did Tokayev give ...?")."""
    words = last_q.rstrip(" ?.!").split()
    lower = [w.lower() for w in words]
    if not words or lower[0] not in _WH:
        return "", ""
    aux = next((i for i in range(1, min(len(words), 5)) if lower[i] in _AUX), None)
    if aux is not None and aux + 1 < len(words):
        rest = words[aux + 1:]
        if lower[aux] in _COPULA and aux == 1:  # "Who is Temur Umarov?", "Who is the president of Kazakhstan?"
            rest_np = " ".join(rest)
            return (rest_np, "") if lower[0] == "who" else ("", rest_np)
        name = _capitalised_run(rest)  # "Where did Tokayev give ...?", "What did Putin claim ...?"
        obj = last_a if lower[0] == "what" else ""
        return name, obj
    # the question word is the subject: "Which Kazakh leader addressed the UN?", "Who proposed the change?"
    return last_a, ("" if lower[0] == "who" else last_a)


def resolve(question: str, history: Sequence[Any] | None) -> str:
    """The question with its first personal pronoun (and its first "it") replaced by what it refers to in the
    last turn, when that is known; otherwise the question unchanged."""
    turns = history_turns(history)
    if not turns:
        return question
    person, thing = _referents(turns[-1][0], referent(history))
    out = question
    if person:
        m = _PERSONAL.search(out)
        if m:
            word = m.group(1).lower()
            sub = f"{person}’s" if word == "his" or (word == "her" and _possessive(out, m.end())) else person
            out = out[:m.start()] + sub + out[m.end():]
    if thing:
        m = _IT.search(out)
        if m:
            out = out[:m.start()] + thing + out[m.end():]
    return out


def _possessive(text: str, end: int) -> bool:
    """True when the pronoun ending at ``end`` is followed by a word it can own ("her office", not "her?")."""
    nxt = re.match(r"\s+([A-Za-z]+)", text[end:])
    return nxt is not None and nxt.group(1).lower() not in _AUX
