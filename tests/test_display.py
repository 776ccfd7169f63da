"""What is shown of a document on a terminal: every character a terminal or a bidi algorithm would obey is a
visible code point; the JSON form keeps the same value."""

from __future__ import annotations

import json

from qa.display import inert_json, visible


def test_controls_are_shown_as_code_points_and_plain_text_is_untouched() -> None:
    plain = "Kassym-Zhomart Tokayev said “no” — 100 000 (½) Ünïcödé 東京"
    assert visible(plain) == plain
    assert visible("a\x1b[2Jb") == "a‹U+001B›[2Jb"
    assert visible("one\ntwo\rthree\x00") == "one‹U+000A›two‹U+000D›three‹U+0000›"
    assert visible("\x9b31m\x7f") == "‹U+009B›31m‹U+007F›"  # C1 CSI and DEL
    assert visible("x\u202eevil\u2066y\u2028") == "x‹U+202E›evil‹U+2066›y‹U+2028›"


def test_inert_json_is_the_same_json_value_with_nothing_raw_a_terminal_obeys() -> None:
    value = {"text": "a\x1b[31mb\x9b\u202e\u2029c\n", "doc_id": "x\ny.txt"}
    text = inert_json(json.dumps(value, ensure_ascii=False))
    assert json.loads(text) == value
    assert not any(ch in text for ch in "\x1b\x9b\u202e\u2029\n")


def test_a_file_name_that_is_not_utf8_is_shown_and_saved_as_code_points_never_raw_bytes() -> None:
    name = "bad\udcff\udcfename.txt"  # what os.fsdecode gives for the bytes b"bad\xff\xfename.txt"
    assert visible(name) == "bad‹U+DCFF›‹U+DCFE›name.txt"
    text = inert_json(json.dumps({"doc_id": name}, ensure_ascii=False))
    text.encode("utf-8")  # printable: no lone surrogate left in it
    assert json.loads(text) == {"doc_id": name}  # and read back, the same id (qa verify finds the file)


def test_a_name_shows_what_is_invisible_in_it_so_two_names_never_look_alike() -> None:
    from qa.display import visible_name

    assert visible_name("report\u200b.txt") == "report‹U+200B›.txt" != visible_name("report.txt")
    assert visible_name("a\u200fb\u061c\ufeff\u2060.txt") == "a‹U+200F›b‹U+061C›‹U+FEFF›‹U+2060›.txt"
    assert visible_name("x\ny\u202e.txt") == "x‹U+000A›y‹U+202E›.txt"  # and what visible() shows
    assert visible("نص\u200fعربي") == "نص\u200fعربي"  # in document text the marks stay


def test_clip_keeps_text_within_its_length_and_says_where_it_cut() -> None:
    from qa.display import clip

    assert clip("short", 10) == "short"
    assert clip("a" * 10, 10) == "a" * 10
    assert clip("word " * 10, 12) == "word word w…" and len(clip("word " * 10, 12)) <= 12
    assert clip("word word word", 11) == "word word…"  # no space left before the ellipsis
