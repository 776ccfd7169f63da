"""Cutting many documents into passages in worker processes, while this process loads the model.

Sentence splitting (pysbd) is pure Python and takes most of the chunking: about 11 s for the squad2-open
corpus (1.2 MB of text) on one core, as long as loading the model. Chunking a large collection therefore
runs in ``python -m qa.chunk_pool`` workers, one per core but one (at most 8), fed and read by pickles through
files and pipes. Plain subprocesses rather than :mod:`multiprocessing`, whose workers re-run the caller's
script when it has no ``if __name__ == "__main__"`` guard. Any failure falls back to chunking here.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Below this many characters of text, documents are chunked in this process: a worker costs ~0.5 s to start.
MIN_CHARS = 300_000


def _work(docs: Sequence[Any], max_tokens: int, count: Callable[[str], int], config: Any) -> list[Any]:
    from .build import _chunk

    return [_chunk(doc, max_tokens, count, config) for doc in docs]


def _shards(docs: Sequence[Any], n: int) -> list[list[int]]:
    """Document numbers in ``n`` contiguous runs of about equal text."""
    total = sum(len(d.text) for d in docs)
    out: list[list[int]] = [[]]
    done = 0
    for i, d in enumerate(docs):
        if out[-1] and done >= total * len(out) / n and len(out) < n:
            out.append([])
        out[-1].append(i)
        done += len(d.text)
    return out


class Workers:
    """Chunking started in the background; :meth:`result` waits for it (None when it failed)."""

    def __init__(self, docs: Sequence[Any], max_tokens: int, count: Callable[[str], int], config: Any,
                 n: int) -> None:
        self.docs = docs
        self.folder = Path(tempfile.mkdtemp(prefix="qa-chunks-"))
        self.shards = _shards(docs, n)
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])  # so that the workers import this very package
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        self.procs: list[subprocess.Popen] = []
        try:
            for k, shard in enumerate(self.shards):
                job = self.folder / f"{k}.pickle"
                job.write_bytes(pickle.dumps(([docs[i] for i in shard], max_tokens, count, config)))
                self.procs.append(subprocess.Popen([sys.executable, "-m", __name__, str(job)], env=env,
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        except BaseException:
            self.close()
            raise

    def result(self) -> list[Any] | None:
        try:
            out: list[Any] = [None] * len(self.docs)
            for shard, proc in zip(self.shards, self.procs, strict=True):
                data, err = proc.communicate()
                if proc.returncode != 0:
                    last = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                    raise RuntimeError(last[0])
                for i, chunks in zip(shard, pickle.loads(data), strict=True):
                    out[i] = chunks
            return out
        except Exception as exc:  # noqa: BLE001 - any failure: the caller chunks in its own process
            logger.info("chunking in worker processes failed (%s); chunking here instead", exc)
            return None
        finally:
            self.close()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(docs: Sequence[Any], max_tokens: int, count: Callable[[str], int] | None, config: Any) -> Workers | None:
    """Workers chunking ``docs``, or None where chunking here is as good: little text, one core, or a token
    counter that cannot be sent to another process (``count`` None)."""
    cores = os.cpu_count() or 1
    if count is None or cores < 2 or sum(len(d.text) for d in docs) < MIN_CHARS:
        return None
    try:
        return Workers(docs, max_tokens, count, config, min(cores - 1, 8))  # a core left to load the model
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        logger.info("no chunking workers (%s); chunking here", exc)
        return None


if __name__ == "__main__":
    sys.stdout.buffer.write(pickle.dumps(_work(*pickle.loads(Path(sys.argv[1]).read_bytes()))))
