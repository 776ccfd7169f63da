"""What kind of answer a question expects (a number, a date, a name), and whether a sentence offers one.

"How old is he?" cannot be answered by a sentence that holds no number, however close it is in meaning; a
sentence that only repeats the names of the question does not say *who*. The answerer uses this as one of its
confidence features (it weighs little on its own; the calibration decides how much).
"""

from __future__ import annotations

import re

from .textnorm import normalize_text

NUMBER, DATE, NAME = "number", "date", "name"

_NUMBER_Q = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|high|deep|wide|often|fast)|"
    r"what (percentage|percent|proportion|share|number|amount|fraction|sum|size)|how many)\b",
    re.IGNORECASE,
)
_DATE_Q = re.compile(
    r"^(when)\b|\b(when (did|was|were|is|does|do|will|had|has)|"
    r"(what|which|in what|in which) (year|years|date|day|month|century|decade|time|period|season))\b",
    re.IGNORECASE,
)
_NAME_Q = re.compile(
    r"^(who|whom|whose|where)\b|\b(who|whom|whose|where) (is|was|were|are|did|does|do|has|had|will)\b|"
    r"\b(what|which) (is|was|are|were) (the|his|her|its|their) (sur|first |last |full )?names?\b|"
    r"\b(sur|first |last |full )?name of\b|"
    r"\b(which|what) (person|man|woman|people|minister|president|leader|official|author|writer|company|"
    r"organi[sz]ation|group|city|town|country|countries|region|place|state|nation|outlet|newspaper|agency)\b",
    re.IGNORECASE,
)

#: Words that give a count (``qa.reader`` keeps a bound before them: "about ten", "at least dozens").
COUNT_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
               r"hundreds?|thousands?|millions?|billions?|dozens?|half")
# a number answer may also be a share ("a third", "30 percent", "twice")
_NUMBER_WORDS = COUNT_WORDS + r"|third|thirds|quarter|percent|twice"
_NUMBER_A = re.compile(rf"\d[\d,.]*\d|\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE)
# Month names only capitalised: "may", "march" and "august" in lower case are a verb and an adjective.
_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|December|"
           r"JANUARY|FEBRUARY|MARCH|APRIL|MAY|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER|"
           r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DATE_A = re.compile(
    rf"\b({_MONTHS})\b|\b(?i:1[0-9]{{3}}|20[0-9]{{2}}|[0-9]{{1,4}}s|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|century|centuries|decade|decades|ago|yesterday|today|tomorrow|spring|summer|autumn|"
    r"winter|week|weeks|month|months|year|years|\d{1,2}(st|nd|rd|th))\b"
)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*")


# "What did the minister say (about extradition)?": the question ends at the verb of saying (or its topic), so
# the answer is the statement itself, not a phrase inside it. "What did he say Tashkent's silence denotes?"
# goes on past the verb and asks for a phrase.
_STATEMENT_Q = re.compile(
    r"^\s*what (did|does|do|has|have|had|will|would) [^?]+? "
    r"(say|said|claim|claimed|state|stated|argue|argued|warn|warned|write|written|wrote|announce|announced|add|added)"
    r"( about [^?]+)?\s*\??\s*$",
    re.IGNORECASE,
)

_UNKNOWN = re.compile(
    r"\b(not (yet )?(been )?(reported|known|disclosed|revealed|specified|published|confirmed|given|say|said|clear)|"
    r"unclear|unknown|no (official )?(data|figures?|information|details)|declined to (say|comment|give))\b",
    re.IGNORECASE,
)


def says_unknown(sentence: str) -> bool:
    """True when a sentence says that something is not known or not reported ("officials have not reported")."""
    return bool(_UNKNOWN.search(sentence))


_CHOICE = re.compile(r"\bor\b", re.IGNORECASE)


def adds_nothing(answer: str, question: str, referent: str = "") -> bool:
    """True when every word of ``answer`` (SQuAD's normalisation) is already in ``question`` or in what a
    follow-up refers to (``referent``, the last answer): it names what was asked about, not what was asked for
    ("Timur Karpov" for "What is the name of his gallery?" once he was the answer; "the Scotland Act" for "What
    act convened the old parliament of Scotland?"). A choice question ("... X or Y?") is answered with its own
    words, so it is never one."""
    words = set(normalize_text(answer).split())
    if not words or _CHOICE.search(question):
        return False
    return words <= set(normalize_text(f"{question} {referent}").split())


# inside single quotation marks, ’ before a letter is an apostrophe ("‘Kazakhs don’t …’"), not the closing mark
_QUOTE = re.compile(r"“([^”]+)”|‘((?:[^’]|’(?=\w))+)’|\"([^\"]+)\"")


def quoted(sentence: str) -> str:
    """The longest passage in quotation marks in ``sentence`` (what a statement said), without its closing
    punctuation; "" when nothing is quoted."""
    parts = [next(g for g in m.groups() if g) for m in _QUOTE.finditer(sentence)]
    return max(parts, key=len).strip().rstrip(",.;:!?") if parts else ""


def asks_statement(question: str) -> bool:
    """True for "What did X say?" and "What did X say about Y?": the answer is what was said, a whole clause."""
    return bool(_STATEMENT_Q.match(question))


def expected_type(question: str) -> str | None:
    """``"number"``, ``"date"``, ``"name"`` or None (an open question: what, why, how...)."""
    if _NUMBER_Q.search(question):
        return NUMBER
    if _DATE_Q.search(question):
        return DATE
    if _NAME_Q.search(question):
        return NAME
    return None


def offers(kind: str | None, sentence: str, question: str) -> bool:
    """True when ``sentence`` holds something of ``kind`` that the question does not already say."""
    if kind is None:
        return True
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    if kind == NUMBER:
        pattern = _NUMBER_A
    elif kind == DATE:
        pattern = _DATE_A
    else:
        pattern = _CAPITALISED
    for m in pattern.finditer(sentence):
        words = re.findall(r"\w+", m.group(0).lower())
        if words and not all(w in asked for w in words):
            if kind == NAME and (words[0] == "i" or m.start() == 0 and words[0] in _SENTENCE_OPENERS):
                continue
            return True
    return False


_SENTENCE_OPENERS = frozenset((
    "a", "an", "the", "but", "and", "or", "so", "yet", "however", "in", "on", "at", "for", "as", "if", "when",
    "while", "after", "before", "since", "this", "that", "these", "those", "it", "he", "she", "they", "we", "i",
    "you", "there", "here", "his", "her", "their", "its", "our", "my", "some", "many", "most", "all", "one",
))
