"""The ``qa`` command: a thin layer over the library. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from .display import clip, inert_json, visible, visible_name

log = logging.getLogger("qa")


def _show(line: str, file: Any = None) -> None:
    """Print a line built from document text or file names: what a terminal would obey in them is shown as
    code points (``qa.display.visible``), so a document cannot clear the screen or forge a line of output."""
    print(visible(line), file=file)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = visible(" ".join(record.getMessage().split()))
        return f"{record.levelname.lower()}: {msg}" if record.levelno >= logging.WARNING else msg


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("qa").setLevel(logging.INFO if verbose else logging.WARNING)


def _common(p: argparse.ArgumentParser, json_output: bool = True) -> None:
    p.add_argument("--docs", default=None, help="folder of documents (default: seeds/)")
    p.add_argument("--index", dest="index_dir", default=None,
                   help="where the index is saved (default: embeddings/<name of docs>)")
    p.add_argument("--model", default=None,
                   help="embedding model: bundled (the default, QA_MODEL), all-MiniLM-L6-v2, a folder or a hub name")
    if json_output:
        p.add_argument("--json", action="store_true", help="print JSON for programs")
    p.add_argument("-v", "--verbose", action="store_true", help="say what is being done")


def _rerank(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rerank", type=_at_least_zero, default=None, metavar="N",
                   help="how many of the best passages the reader re-ranks where retrieval is unsure "
                        "(QA_RERANK_MARGIN; default: QA_RERANK, else 10; 0 turns it off)")


def _whole_number(least: int) -> Callable[[str], int]:
    """An option's type: a whole number of at least ``least`` (argparse reports the error in one line)."""

    def whole(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = least - 1
        if n < least:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {least}, not {text!r}")
        return n

    return whole


_at_least_one, _at_least_zero = _whole_number(1), _whole_number(0)


def _confidence(text: str) -> float:
    """An option's confidence: a number from 0 to 1."""
    try:
        x = float(text)
    except ValueError:
        x = -1.0
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be a confidence from 0 to 1, not {text!r}")
    return x


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the command (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("required: COMMAND"):  # plain `qa`: what it can do
            self.print_help(sys.stderr)
            self.exit(2)
        self.exit(2, f"error: {' '.join(message.split())} (see: {self.prog} --help)\n")


def _question(p: argparse.ArgumentParser) -> None:
    # `qa ask Who is the minister?` (unquoted) is the question its words make, not "unrecognized arguments"
    p.add_argument("question", nargs="+", metavar="QUESTION",
                   help="the question, best quoted (its words are joined with spaces if not)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qa", description="Ask questions about a folder of documents; answers are cited verbatim spans.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index of a folder")
    p.add_argument("folder", nargs="?", default=None, help="folder of documents (same as --docs)")
    _common(p)

    p = sub.add_parser("retrieve", help="ranked passages for a question")
    _question(p)
    p.add_argument("-k", type=_at_least_one, default=5, help="how many passages (default 5)")
    _rerank(p)
    p.add_argument("--only", action="append", help="limit to a document id or glob (repeatable)")
    _common(p)

    p = sub.add_parser("ask", help="a cited answer to a question")
    _question(p)
    p.add_argument("-k", type=_at_least_one, default=5,
                   help="passages returned with the answer: in --json, and listed when the documents do not say "
                        "(default 5)")
    p.add_argument("--top-n", type=_at_least_one, default=1, help="up to N distinct answers (default 1)")
    _rerank(p)
    p.add_argument("--history", action="append", help="an earlier question of the conversation (repeatable)")
    p.add_argument("--threshold", type=_confidence, default=None, help="no-answer threshold on confidence")
    p.add_argument("--reader", default=None,
                   help="extractive reader: 'bundled' (the default, or QA_READER), a path or a name; "
                        "'sentence': the best whole sentence")
    p.add_argument("--only", action="append", help="limit to a document id or glob (repeatable)")
    _common(p)

    p = sub.add_parser("verify", help="check the citations of a saved answer (JSON from `qa ask --json`)")
    p.add_argument("answer_file", metavar="ANSWER.json", help="an answer saved by `qa ask --json`; - reads it from "
                   "standard input (qa ask ... --json | qa verify -)")
    _common(p)

    p = sub.add_parser("eval", help="evaluate on a question set (JSONL)")
    p.add_argument("--questions", required=True, help="JSONL file of questions with gold answers")
    p.add_argument("--limit", type=_at_least_one, default=None, help="only the first N questions")
    p.add_argument("--reader", default=None,
                   help="extractive reader: 'bundled' (the default, or QA_READER), a path or a name; "
                        "'sentence': the best whole sentence")
    p.add_argument("--out", default=None, help="write per-question rows (JSONL) here")
    p.add_argument("--threshold", type=_confidence, default=None,
                   help="no-answer threshold on confidence (default: the calibrated one, or QA_NO_ANSWER)")
    _rerank(p)
    _common(p)

    p = sub.add_parser("average-readers", help="average the weights of readers trained from one encoder")
    p.add_argument("readers", nargs="+", metavar="READER_DIR", help="reader folders (at least two)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the averaged reader is saved")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")

    p = sub.add_parser("train-reader", help="train the extractive reader on SQuAD-format data")
    p.add_argument("--data", action="append", required=True, metavar="FILE.json", help="training file (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the trained reader is saved")
    p.add_argument("--base", default="all-MiniLM-L6-v2", help="encoder to start from (default: packaged MiniLM)")
    p.add_argument("--eval", action="append", metavar="FILE.json", help="SQuAD-format file to score on (repeatable)")
    p.add_argument("--eval-open", nargs=2, metavar=("DOCS", "QUESTIONS"),
                   help="score on the gold paragraphs of a squad2-open style question set")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="train on a seeded sample of N examples")
    p.add_argument("--windows", type=int, default=None, metavar="LEAD",
                   help="train on sentence windows as the engine reads them (a sentence and its neighbours, after "
                        "LEAD sentences of context), each answer's and one without it, instead of whole paragraphs")
    p.add_argument("--negatives", type=int, default=0, metavar="N",
                   help="also pair each answerable question with N other paragraphs of its article, as unanswerable")
    p.add_argument("--hard-negatives", action="store_true",
                   help="with --windows: each question's window without its answer is around the sentence the engine "
                        "would score best for it (cosine and term coverage), not one drawn at random")
    p.add_argument("--shared-norm", type=float, default=0.0, metavar="W",
                   help="with --windows: also train a question's windows against each other (shared "
                        "normalisation of their span-over-no-answer margins), with this weight")
    p.add_argument("--swaps", type=float, default=0.0, metavar="SHARE",
                   help="also give this share of the answerable questions with one of their names swapped for "
                        "another name of the article, as unanswerable (SQuAD 2.0's entity swaps)")
    p.add_argument("--device", default=None, help="torch device (default: a GPU if there is one)")
    p.add_argument("-v", "--verbose", action="store_true", help="log the loss as it trains")

    p = sub.add_parser("train-retriever", help="fine-tune the embedding model on SQuAD-format questions")
    p.add_argument("--data", action="append", required=True, metavar="FILE.json", help="training file (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR", help="where the trained model is saved")
    p.add_argument("--base", default="all-MiniLM-L6-v2", help="model to start from (default: packaged MiniLM)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32, help="paragraphs per step, each with one question")
    p.add_argument("--articles-per-batch", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--sentence-loss", type=float, default=1.0, help="weight of the sentence-level loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="torch device (default: a GPU if there is one)")
    p.add_argument("-v", "--verbose", action="store_true", help="log the loss as it trains")

    p = sub.add_parser("chat", help="start the web chat")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    _common(p, json_output=False)
    return parser


def _refuse_empty_name(*folders: str | None) -> None:
    """A documents folder given as "" names no folder; it is not "none given" (which means seeds/)."""
    from .errors import DocumentsError

    if "" in folders:
        raise DocumentsError("the documents folder is an empty name; give a folder (or leave it out for seeds/)")


def _index(args: argparse.Namespace, docs: str | None = None, as_saved: bool = False) -> Any:
    from .api import DEFAULT_DOCS
    from .config import Config
    from .errors import QAError
    from .index import holds_an_index, load_index, saved_docs_folder, warn_folder_gone

    _refuse_empty_name(docs, args.docs)
    config = Config.from_env(model=args.model, rerank=getattr(args, "rerank", None))
    folder = docs or args.docs
    if folder is None and args.index_dir is not None:
        # --index alone: that index, brought up to date with the folder it was built from (never rebuilt
        # over with the default documents); as saved when that folder is gone, or to verify against it.
        saved = saved_docs_folder(Path(args.index_dir))
        if saved is not None and saved.is_dir() and not as_saved:
            folder = str(saved)
        elif saved is None and docs is None and not hasattr(args, "folder") and not holds_an_index(
                Path(args.index_dir)):
            # a mistyped --index would otherwise build an index of the default documents there, and answer
            # from that as if nothing were wrong
            there = "is not there" if not Path(args.index_dir).exists() else "holds no index"
            raise QAError(f"{args.index_dir} {there}: give --docs FOLDER to build an index of FOLDER there, "
                          f"or `qa index FOLDER --index {args.index_dir}`")
        elif saved is not None or not Path(DEFAULT_DOCS).is_dir() or holds_an_index(Path(args.index_dir)):
            # a damaged index whose folder is unknown is reported, not rebuilt from the default documents
            index = load_index(docs=None, index_dir=args.index_dir, config=config, progress=not args.json)
            if saved is not None and str(saved) and not saved.is_dir() and not as_saved:
                warn_folder_gone(args.index_dir, saved, "--docs")
            return index
    if as_saved:
        # to verify against: the index as saved, where it is this folder's (brought up to date first, it
        # would be rewritten, and a changed document would be reported as a misquote rather than as changed)
        from .errors import IndexFileError
        from .index import default_index_dir, saved_docs_folder

        path = Path(args.index_dir) if args.index_dir is not None else default_index_dir(folder or DEFAULT_DOCS)
        saved = saved_docs_folder(path)
        if saved is not None and saved.resolve() == Path(folder or DEFAULT_DOCS).resolve():
            try:
                return load_index(docs=None, index_dir=path, config=config, progress=False)
            except IndexFileError:
                pass  # damaged: rebuilt from the folder below, with its warning
    return load_index(docs=folder or DEFAULT_DOCS, index_dir=args.index_dir, config=config,
                      progress=sys.stderr.isatty())


def _finite(obj: Any) -> Any:
    """``obj`` with NaN (a metric with nothing to measure, e.g. NoAns_exact without unanswerable questions)
    as None, so that the output is strict JSON (``null``)."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _print_json(obj: Any) -> None:
    print(inert_json(json.dumps(_finite(obj), ensure_ascii=False, indent=2, allow_nan=False)))


def _check_question(args: argparse.Namespace) -> None:
    """Refuse an empty or oversized question before the index (and the model) is loaded."""
    from .answering import clean_question
    from .config import Config

    clean_question(args.question, Config.from_env().max_question_chars)


def cmd_index(args: argparse.Namespace) -> int:
    from .errors import ArgumentError, IndexFileError

    if args.folder is not None and args.docs is not None and Path(args.folder).resolve() != Path(args.docs).resolve():
        raise ArgumentError(f"two documents folders, {args.folder} and --docs {args.docs}: give one")
    index = _index(args, args.folder)
    if not index.saved:  # asking can go on from the index in memory; `qa index` is for the saved copy
        raise IndexFileError(f"the index could not be saved to {index.path} (see the warning above)")
    info = {"index": str(index.path), "documents": len(index.documents), "passages": len(index),
            "sentences": len(index.corpus.s_passage), "model": index.embedder.model_id,
            "index_type": index.index_type}
    if args.json:
        _print_json(info)
    else:
        _show(f"indexed {info['documents']} documents, {info['passages']} passages, {info['sentences']} "
              f"sentences into {info['index']} ({info['model']}, {info['index_type']})")
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    from .api import retrieve

    _check_question(args)
    hits = retrieve(args.question, k=args.k, index=_index(args), only=args.only)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for h in hits:
        text = " ".join(h.text.split())
        parts = f"dense {h.dense_score:.3f}, bm25 {h.bm25_score:.2f}, sentence {h.sentence_score:.3f}"
        if h.rerank_score is None:
            scores = f"score {h.score:.3f} ({parts})"
        else:  # the order is the re-ranked one: show the score that made it first
            scores = f"re-ranked {h.rerank_score:.3f} (retrieval {h.score:.3f}: {parts}; reader {h.reader_score:+.2f})"
        _show(f"{h.rank}. {visible_name(h.doc_id)}:{h.start}-{h.end}  {scores}")
        _show(f"   {clip(text, 300)}")
    return 0


def _in_sentence(a: Any, c: Any, width: int = 300) -> str | None:
    """The sentence around a cited span shorter than it, the span in [brackets] (from the answer's passages)."""
    if c.start <= c.sentence_start and c.end >= c.sentence_end:
        return None
    passage = next((h for h in a.passages if h.doc_id == c.doc_id and h.start <= c.sentence_start
                    and c.sentence_end <= h.end), None)
    if passage is None:
        return None
    def raw(lo: int, hi: int) -> str:
        return passage.text[lo - passage.start:hi - passage.start]

    def cut(lo: int, hi: int) -> str:
        return " ".join(raw(lo, hi).split())
    before, span, after = cut(c.sentence_start, c.start), cut(c.start, c.end), cut(c.end, c.sentence_end)
    room = max(0, width - len(span)) // 2
    before = before if len(before) <= room else "…" + before[-room:]
    after = after if len(after) <= room else after[:room] + "…"
    # a space beside the brackets only where the document has one: "went to [Kazakhstan]." is what it says
    gap_before = " " if before and raw(c.sentence_start, c.start)[-1:].isspace() else ""
    gap_after = " " if after and raw(c.end, c.sentence_end)[:1].isspace() else ""
    return f"{before}{gap_before}[{span}]{gap_after}{after}"


def _print_answer(a: Any) -> None:
    if a.no_answer:
        _show(f"The documents do not say (confidence {a.confidence:.2f}). Nearest passages:")
        for h in a.passages:  # -k of them
            _show(f"  - {visible_name(h.doc_id)}:{h.start}-{h.end}  {clip(' '.join(h.text.split()), 200)}")
        return
    _show(" ".join(a.text.split()))
    for n, c in enumerate(a.citations, 1):
        page = f", page {c.page}" if c.page else ""
        _show(f"  [{n}] {visible_name(c.doc_id)}{page}, characters {c.start}-{c.end}")
        context = _in_sentence(a, c)
        if context:
            _show(f"      in: {context}")
    _show(f"  confidence {a.confidence:.2f}")
    for n, alt in enumerate(a.alternatives, 2):
        c = alt.citations[0]
        where = f"{visible_name(c.doc_id)}:{c.start}-{c.end}"
        _show(f"  other answer {n}: {clip(' '.join((alt.text or '').split()), 200)}  ({where}, "
              f"confidence {alt.confidence:.2f})")


def cmd_ask(args: argparse.Namespace) -> int:
    from .api import answer

    _check_question(args)
    a = answer(args.question, index=_index(args), history=args.history, reader=args.reader, top_n=args.top_n,
               threshold=args.threshold, k=args.k, only=args.only)
    if args.json:
        _print_json(a.to_dict())
    else:
        _print_answer(a)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .api import DEFAULT_DOCS, verify
    from .errors import QAError
    from .results import Answer

    try:
        raw = sys.stdin.read() if args.answer_file == "-" else Path(args.answer_file).read_text(encoding="utf-8-sig")
        raw = raw.removeprefix("\ufeff")  # a byte-order mark, as some editors save JSON with
        data = json.loads(raw)
        ans = Answer.from_dict(data)
    except FileNotFoundError as exc:
        raise QAError(f"answer file not found: {args.answer_file}") from exc
    except OSError as exc:  # a folder, a file it may not read
        raise QAError(f"cannot read the answer file {args.answer_file} ({exc.strerror or exc})") from exc
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise QAError(f"{args.answer_file}: not an answer saved by `qa ask --json` ({why})") from exc
    problems = verify(ans, index=_index(args, as_saved=True))
    n = len(ans.citations) + sum(len(a.citations) for a in ans.alternatives)
    if args.json:
        _print_json({"citations": n, "withheld_guess": ans.withheld is not None, "problems": problems,
                     "ok": not problems})
    elif problems:
        for p in problems:
            _show(p)
        if any(p.endswith("is not in the index") for p in problems) and args.docs is None and args.index_dir is None:
            _show(f"(checked against {DEFAULT_DOCS}/: give --docs or --index of the folder the answer was asked over)")
    else:
        _show(f"ok: {n} citation(s){' and the withheld guess' if ans.withheld else ''} verified")
    return 1 if problems else 0


def _rows_file(out: str, questions: str) -> Path:
    """Where ``qa eval --out`` writes its rows, checked before the (long) run: not the question file itself,
    not a folder, in a folder that exists."""
    from .errors import QAError

    path = Path(out)
    if path.is_dir():
        raise QAError(f"--out {out} is a folder; give a file name for the rows (JSONL)")
    if not path.parent.is_dir():
        raise QAError(f"--out {out}: the folder {path.parent} does not exist")
    if path.exists() and Path(questions).exists() and os.path.samefile(path, questions):
        raise QAError(f"--out {out} is the question file; the rows would replace the questions, give another file")
    return path


def cmd_eval(args: argparse.Namespace) -> int:
    from .answering import Answerer
    from .api import get_reader
    from .config import Config
    from .errors import QAError
    from .evaluation import evaluate, format_table, read_questions
    from .files import atomic_write

    out = _rows_file(args.out, args.questions) if args.out else None
    questions = read_questions(args.questions, Config.from_env().max_question_chars)[: args.limit]
    index = _index(args)
    answerer = Answerer(index, reader=get_reader(args.reader, index.config))
    summary, rows = evaluate(index, questions, answerer, threshold=args.threshold)
    if out is not None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        try:
            atomic_write(out, lambda f: f.write(text), "w")
        except OSError as exc:
            raise QAError(f"cannot write {out} ({exc.strerror or exc})") from exc
    if args.json:
        _print_json(summary)
    else:
        print(format_table(summary))
    return 0


def cmd_train_reader(args: argparse.Namespace) -> int:
    from .reader_train import main as train_main

    return train_main(args)


def cmd_average_readers(args: argparse.Namespace) -> int:
    from .reader_soup import average_readers

    record = average_readers(args.readers, args.out)
    print(f"averaged {len(record['soup']['ingredients'])} readers; saved to {args.out}")
    return 0


def cmd_train_retriever(args: argparse.Namespace) -> int:
    from .retriever_train import main as train_main

    return train_main(args)


def cmd_chat(args: argparse.Namespace) -> int:
    from ui.app import serve

    _refuse_empty_name(args.docs)

    serve(docs=args.docs, index_dir=args.index_dir, model=args.model, host=args.host, port=args.port)
    return 0


COMMANDS = {"index": cmd_index, "retrieve": cmd_retrieve, "ask": cmd_ask, "verify": cmd_verify,
            "eval": cmd_eval, "train-reader": cmd_train_reader, "average-readers": cmd_average_readers,
            "train-retriever": cmd_train_retriever, "chat": cmd_chat}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said with the command's own help, where its options are listed
        parser.exit(2, f"error: unrecognized arguments: {' '.join(extra)} (see: qa {args.command} --help)\n")
    if isinstance(getattr(args, "question", None), list):
        args.question = " ".join(args.question)
    _setup_logging(args.verbose)
    from .errors import QAError

    try:
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not in the interpreter's exit
        return status
    except QAError as exc:
        _show(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `qa ask ... | head`: the reader of our output left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        return 0
    except KeyboardInterrupt as exc:  # an interrupted build says what it kept (qa.build.IndexingInterrupted)
        _show(f"interrupted: {exc}" if str(exc) else "interrupted", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as exc:  # one line, even for a library's message of several
        _show(f"error: {exc.__class__.__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
