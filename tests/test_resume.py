"""Interrupted builds resume: finished groups of documents are checkpointed in ``<index>/partial/``, reused by
the next build only when they match exactly (model, settings, document content, spans), and removed once the
index is saved; the CLI says in one line what was kept."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

import qa
import qa.build
import qa.index
from qa import Config
from qa.files import LOCK_NAME
from qa.index import PARTIAL, IndexingInterrupted
from tests.conftest import DOCS, HASHING, CountingEmbedder, assert_same, write_docs

# Four more documents of 2 to 5 paragraphs, beside the conftest collection: 8 documents, 23 passages.
WORDS = ["heron", "pike", "ferry", "orchard", "furnace", "survey", "council", "river", "harbour", "glass", "apple",
         "drought"]
MORE = {
    f"notes/n{i}.txt": "\n\n".join(
        f"Note {i} paragraph {j} mentions the {WORDS[(i + j) % len(WORDS)]} and the {WORDS[(i * j) % len(WORDS)]} "
        f"seen near the old mill on day {i * 10 + j}."
        for j in range(i + 2)
    )
    for i in range(4)
}
COLLECTION = {**DOCS, **MORE}


class Interrupting(CountingEmbedder):
    """The counting fake embedder, interrupted (as by Ctrl-C) when asked for its call number ``after + 1``."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def encode_passages(self, texts, sentences, progress=None):  # type: ignore[no-untyped-def]
        if self.passage_calls >= self.after:
            raise KeyboardInterrupt
        return super().encode_passages(texts, sentences, progress)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs", COLLECTION)


@pytest.fixture
def group(monkeypatch: pytest.MonkeyPatch):
    """Set the checkpoint group size (passages) for the test."""

    def set_size(n: int) -> int:
        monkeypatch.setattr(qa.build, "GROUP_PASSAGES", n)
        return n

    return set_size


def build(docs: Path, index_dir: Path, embedder=None, config: Config = HASHING, **kw) -> qa.Index:
    kw.setdefault("progress", False)
    return qa.load_index(docs=docs, index_dir=index_dir, config=config, embedder=embedder, **kw)


def interrupted(docs: Path, index_dir: Path, after: int, config: Config = HASHING, **kw) -> IndexingInterrupted:
    with pytest.raises(IndexingInterrupted) as info:
        build(docs, index_dir, Interrupting(after), config, **kw)
    return info.value


def checkpoints(index_dir: Path) -> list[Path]:
    return sorted((index_dir / PARTIAL).glob("*.npz"))


def record(f: Path) -> dict:
    with np.load(f) as z:
        return json.loads(str(z["meta"]))


def passages_in(index: qa.Index, doc_ids: list[str]) -> int:
    return sum(int((index.corpus.p_doc == index.doc_number[d]).sum()) for d in doc_ids)


@pytest.fixture
def reference(docs: Path, tmp_path: Path) -> qa.Index:
    """The uninterrupted build of the collection (in another folder)."""
    return build(docs, tmp_path / "reference")


# -- resuming ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, after", [(1, 3), (3, 2), (6, 1)])
def test_interrupted_build_resumes_and_equals_an_uninterrupted_one(
    docs: Path, index_dir: Path, reference: qa.Index, group, size: int, after: int, caplog
) -> None:
    group(size)
    total = len(reference)
    exc = interrupted(docs, index_dir, after)
    assert isinstance(exc, KeyboardInterrupt)  # code that catches Ctrl-C still does
    assert isinstance(exc, qa.IndexingInterrupted)  # and it is part of the API
    assert exc.total == total and 0 < exc.done < total
    assert exc.folder == index_dir / PARTIAL
    assert str(exc) == (f"{exc.done} of {total} passages embedded and kept in {index_dir / PARTIAL}; "
                        "run the same command again to resume")
    assert len(checkpoints(index_dir)) == after
    assert not (index_dir / "manifest.json").exists()
    assert sorted(p.name for p in index_dir.iterdir()) == [LOCK_NAME, PARTIAL]
    assert not list((index_dir / PARTIAL).glob("*.tmp"))

    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = build(docs, index_dir, emb)
    assert caplog.text == ""  # no "rebuilding" warning for a folder that only holds checkpoints
    assert emb.passages_embedded == total - exc.done
    assert_same(index.corpus, reference.corpus)
    assert not (index_dir / PARTIAL).exists()
    assert_same(qa.load_index(docs=None, index_dir=index_dir, config=HASHING).corpus, reference.corpus)


def test_grouping_does_not_change_the_fake_embedders_vectors(docs: Path, tmp_path: Path, group) -> None:
    """The embedder sorts texts by length within a call, so groups change batch composition; the fake embedder
    embeds each text on its own (the real model may differ in the last bits, from padding)."""
    group(10**9)
    whole = build(docs, tmp_path / "one-group")
    group(1)
    assert_same(build(docs, tmp_path / "many-groups").corpus, whole.corpus)


def test_a_resumed_build_interrupted_again_keeps_both_runs_work(
    docs: Path, index_dir: Path, reference: qa.Index, group
) -> None:
    group(2)
    first = interrupted(docs, index_dir, after=2)
    second = interrupted(docs, index_dir, after=2)
    assert first.done < second.done < second.total == len(reference)
    emb = CountingEmbedder()
    assert_same(build(docs, index_dir, emb).corpus, reference.corpus)
    assert emb.passages_embedded == len(reference) - second.done


def test_interrupted_update_of_a_saved_index(docs: Path, index_dir: Path, tmp_path: Path, group) -> None:
    group(1)
    old = build(docs, index_dir)
    (docs / "alpha.txt").write_text("A new survey of the lake.\n\nIt counted 500 herons on the northern shore.\n")
    (docs / "notes" / "n2.txt").unlink()
    write_docs(docs, {"extra/e1.txt": "An extra document about ferries and their timetables in winter.",
                      "extra/e2.txt": "A second extra document about orchards and cider apples in autumn."})
    ref = build(docs, tmp_path / "reference")
    exc = interrupted(docs, index_dir, after=2)
    assert exc.total == passages_in(ref, ["alpha.txt", "extra/e1.txt", "extra/e2.txt"])
    # The saved index is untouched by the interrupted update.
    assert_same(qa.load_index(docs=None, index_dir=index_dir, config=HASHING).corpus, old.corpus)
    emb = CountingEmbedder()
    assert_same(build(docs, index_dir, emb).corpus, ref.corpus)
    assert emb.passages_embedded == exc.total - exc.done
    assert not (index_dir / PARTIAL).exists()


def test_interrupted_while_saving_the_index(
    docs: Path, index_dir: Path, reference: qa.Index, group, monkeypatch: pytest.MonkeyPatch
) -> None:
    group(4)
    real_save = qa.Index.save

    def interrupted_save(self, path=None):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(qa.Index, "save", interrupted_save)
    with pytest.raises(IndexingInterrupted) as info:
        build(docs, index_dir)
    assert info.value.done == info.value.total == len(reference)
    monkeypatch.setattr(qa.Index, "save", real_save)
    emb = CountingEmbedder()
    assert_same(build(docs, index_dir, emb).corpus, reference.corpus)
    assert emb.passage_calls == 0


def test_a_document_changed_since_is_embedded_again(
    docs: Path, index_dir: Path, tmp_path: Path, reference: qa.Index, group
) -> None:
    group(1)  # one document per checkpoint
    exc = interrupted(docs, index_dir, after=3)
    first3 = [d.doc_id for d in reference.documents[:3]]
    assert exc.done == passages_in(reference, first3)
    changed = docs / first3[1]
    changed.write_text(changed.read_text(encoding="utf-8").replace("the", "a"), encoding="utf-8")
    ref2 = build(docs, tmp_path / "reference2")
    emb = CountingEmbedder()
    assert_same(build(docs, index_dir, emb).corpus, ref2.corpus)
    assert emb.passages_embedded == len(ref2) - passages_in(ref2, [first3[0], first3[2]])


@pytest.mark.parametrize("other", ["model", "title_in_passage", "max_tokens"])
def test_checkpoints_of_another_model_or_settings_are_not_reused(
    docs: Path, index_dir: Path, tmp_path: Path, group, other: str
) -> None:
    group(3)
    interrupted(docs, index_dir, after=2)
    assert len(checkpoints(index_dir)) == 2
    config, emb = HASHING, CountingEmbedder()
    if other == "model":
        emb = CountingEmbedder(dim=128)  # model id hashing-128
    elif other == "title_in_passage":  # same spans, other texts given to the model
        config = Config(model="hashing", title_in_passage=False)
    else:
        config = Config(model="hashing", max_tokens=48)
    index = build(docs, index_dir, emb, config)
    assert emb.passages_embedded == len(index)
    assert_same(index.corpus, build(docs, tmp_path / "reference", CountingEmbedder(emb.dim), config).corpus)
    assert not (index_dir / PARTIAL).exists()  # stale checkpoints go with the successful save


def _truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _flip_a_byte(f: Path) -> None:
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the vectors
    f.write_bytes(bytes(data))


def _garbage(f: Path) -> None:
    f.write_text("not a checkpoint")


def _misnamed(f: Path) -> None:
    f.rename(f.with_name("0" * 64 + ".npz"))


def _empty(f: Path) -> None:
    f.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _garbage, _misnamed, _empty])
def test_a_damaged_checkpoint_is_warned_about_and_embedded_again(
    docs: Path, index_dir: Path, reference: qa.Index, group, damage, caplog
) -> None:
    group(1)
    exc = interrupted(docs, index_dir, after=2)
    first2 = [d.doc_id for d in reference.documents[:2]]
    files = checkpoints(index_dir)
    assert len(files) == 2
    damaged = next(f for f in files if record(f)["documents"][0][:2] == [first2[0], reference.documents[0].sha256])
    damage(damaged)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = build(docs, index_dir, emb)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "\n" not in msg and "checkpoint" in msg and "embedded again" in msg
    assert emb.passages_embedded == len(reference) - exc.done + passages_in(reference, first2[:1])
    assert_same(index.corpus, reference.corpus)


def test_spans_that_no_longer_match_are_not_reused(docs: Path, index_dir: Path, reference: qa.Index, group,
                                                   monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """A checkpoint whose record matches but whose passages are not the ones the document is cut into now
    (e.g. chunking changed between versions) is redone."""
    group(1)
    interrupted(docs, index_dir, after=1)
    (f,) = checkpoints(index_dir)
    with np.load(f) as z:
        arrays = dict(z)
    arrays["p_end"] = arrays["p_end"] - 1
    with open(f, "wb") as out:
        np.savez(out, **arrays)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        assert_same(build(docs, index_dir, emb).corpus, reference.corpus)
    assert "do not match" in caplog.text
    assert emb.passages_embedded == len(reference)


def test_no_checkpoints_without_save(docs: Path, index_dir: Path, group) -> None:
    group(1)
    with pytest.raises(KeyboardInterrupt) as info:
        build(docs, index_dir, Interrupting(2), save=False)
    assert not isinstance(info.value, IndexingInterrupted)
    assert not index_dir.exists()


def test_only_checkpoints_is_not_an_index(docs: Path, index_dir: Path, group) -> None:
    group(1)
    interrupted(docs, index_dir, after=1)
    with pytest.raises(qa.IndexFileError, match="no saved index"):
        qa.load_index(docs=None, index_dir=index_dir, config=HASHING)


# -- progress ------------------------------------------------------------------------------------------------


def test_progress_bar_counts_from_what_is_kept(docs: Path, index_dir: Path, reference: qa.Index, group,
                                                capsys) -> None:
    group(3)
    exc = interrupted(docs, index_dir, after=2)
    capsys.readouterr()
    build(docs, index_dir, progress=True)
    err = capsys.readouterr().err
    total = len(reference)
    assert "embedding" in err and "passage/s" in err
    assert f"{exc.done}/{total}" in err and f"{total}/{total}" in err
    assert f" 0/{total}" not in err  # starts from the kept passages


def test_no_progress_output_when_off(docs: Path, index_dir: Path, group, capsys) -> None:
    group(3)
    build(docs, index_dir, progress=False)
    assert capsys.readouterr().err == ""


# -- the command line ------------------------------------------------------------------------------------------


def test_cli_interrupt_is_one_line_and_exit_130(
    docs: Path, index_dir: Path, reference: qa.Index, group, monkeypatch: pytest.MonkeyPatch, capsys, cli_main
) -> None:
    group(5)
    emb: CountingEmbedder = Interrupting(after=2)
    monkeypatch.setattr(qa.index, "make_embedder", lambda *a, **k: emb)  # whichever `emb` is at the time
    argv = ["index", str(docs), "--index", str(index_dir), "--model", "hashing"]
    assert cli_main(argv) == 130
    out, err = capsys.readouterr()
    done = emb.passages_embedded
    assert out == "" and "Traceback" not in err
    assert err.splitlines() == [f"interrupted: {done:,} of {len(reference):,} passages embedded and kept in "
                                f"{index_dir / PARTIAL}; run the same command again to resume"]

    emb = CountingEmbedder()
    assert cli_main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"indexed {len(reference.documents)} documents, {len(reference)} passages")
    assert emb.passages_embedded == len(reference) - done
    assert not (index_dir / PARTIAL).exists()


def test_cli_other_interrupts_say_interrupted(
    docs: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, cli_main
) -> None:
    import qa.cli

    def ctrl_c(args):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setitem(qa.cli.COMMANDS, "index", ctrl_c)
    assert cli_main(["index", str(docs), "--index", str(index_dir), "--model", "hashing"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_checkpoint_of_other_model_input_is_not_reused(
    docs: Path, index_dir: Path, reference: qa.Index, group, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same documents, model and settings, but the texts given to the model differ (as after a change in how
    passages are prefixed with titles): the checkpoints are for other work."""
    group(1)
    interrupted(docs, index_dir, after=3)
    real_chunk = qa.build._chunk

    def other_input(*args):  # type: ignore[no-untyped-def]
        chunks = real_chunk(*args)
        chunks.texts[:] = [f"{t} (v2)" for t in chunks.texts]
        return chunks

    monkeypatch.setattr(qa.build, "_chunk", other_input)
    emb = CountingEmbedder()
    build(docs, index_dir, emb)
    assert emb.passages_embedded == len(reference)


def test_checkpoints_that_cannot_be_written_are_skipped_with_a_warning(
    docs: Path, index_dir: Path, reference: qa.Index, group, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    group(2)
    real_write = qa.build.atomic_write

    def no_room_for_checkpoints(path: Path, *args):  # type: ignore[no-untyped-def]
        if path.parent.name == PARTIAL:
            raise OSError(28, "No space left on device")
        return real_write(path, *args)

    monkeypatch.setattr(qa.build, "atomic_write", no_room_for_checkpoints)
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = build(docs, index_dir)
    assert [r.getMessage() for r in caplog.records].count(
        f"cannot write checkpoints in {index_dir / PARTIAL}, going on without (OSError: [Errno 28] No space left "
        "on device)") == 1
    assert len(caplog.records) == 1
    assert_same(index.corpus, reference.corpus)
