"""Writing files safely: atomically (a temporary name, then a rename), with their SHA-256, and one process at
a time (:func:`folder_lock`)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The lock file inside an index folder (hidden: an index folder's hidden files are never its content).
LOCK_NAME = ".lock"


def packaged_model(folder: str) -> str | None:
    """The model folder ``qa/<folder>`` shipped inside the package, if its weights are there."""
    from importlib import resources

    path = resources.files("qa").joinpath(folder)
    return str(path) if path.joinpath("model.safetensors").is_file() else None


def local_folder(name: str, what: str, choices: str) -> str | None:
    """``name`` as a local folder when it is written as a path ("/…", "./…", "~/…"; "org/model" stays a hub
    name), else None.

    Raises:
        QAError: it is written as a path and there is no such folder (``what`` and ``choices`` say which
            setting and what it takes).
    """
    if not name.startswith((".", "/", "~")):
        return None
    folder = os.path.expanduser(name)
    if not os.path.isdir(folder):
        from .errors import QAError

        raise QAError(f"{what} folder not found: {name} ({choices})")
    return folder


#: How long the model hub gets to answer a connection before it is taken as unreachable (seconds).
HUB_CONNECT_SECONDS = 3.0


@functools.cache
def hub_unreachable() -> str | None:
    """The model hub's address when it cannot be reached from here (one connection attempt per process, at most
    ``HUB_CONNECT_SECONDS``), else None; None too when the libraries are offline already (``HF_HUB_OFFLINE``)
    or a proxy is set (only they know how to use it). Without this check, a hub name on a machine with no
    network costs a minute of retries (and their messages) before the same error."""
    import socket
    from urllib.parse import urlsplit

    if _offline() or any(
            os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                                        "all_proxy")):
        return None
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    try:
        socket.create_connection((host, url.port or (80 if url.scheme == "http" else 443)),
                                 timeout=HUB_CONNECT_SECONDS).close()
    except (OSError, ValueError):
        return url.netloc or host
    return None


def hub_options(name: str) -> dict[str, Any]:
    """Keyword arguments for loading ``name`` with transformers or sentence-transformers: for a hub name when
    the hub cannot be reached, ``local_files_only`` (the copy in the local cache, at once, or an error)."""
    if os.path.isdir(os.path.expanduser(name)) or hub_unreachable() is None:
        return {}
    logger.info("the model hub (%s) cannot be reached; looking for %s in the local cache", hub_unreachable(), name)
    return {"local_files_only": True}


def hub_unreachable_error(what: str, name: str) -> str:
    return (f"cannot load the {what} {name!r}: it is not in the local cache, and the model hub "
            f"({hub_unreachable()}) cannot be reached from here (a local model folder works offline)")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def check_cached(what: str, name: str) -> None:
    """When the hub cannot be reached (or ``HF_HUB_OFFLINE`` is set), a hub name that is not in the local
    cache is a one-line :class:`~qa.errors.QAError` now, before anything else is said or done with it."""
    offline = _offline() and not os.path.isdir(os.path.expanduser(name))
    if not offline and not hub_options(name):
        return
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repository name: loading it says why
        return
    if not isinstance(cached, str):
        from .errors import QAError

        if offline:
            raise QAError(f"cannot load the {what} {name!r}: it is not a folder here, nor in the local cache, "
                          "and HF_HUB_OFFLINE is set (a local model folder works offline)")
        raise QAError(hub_unreachable_error(what, name))


@contextlib.contextmanager
def loading_model(what: str, name: str) -> Any:
    """Around loading a model: an ``OSError`` (no such folder or hub name, the hub unreachable, a damaged file),
    a ``ValueError`` (a folder that holds no model of a known kind, a tokenizer that cannot be built) or a
    device torch cannot use (``RuntimeError``, ``AssertionError``: "not compiled with CUDA") becomes a one-line
    :class:`~qa.errors.QAError` that names the model and the setting that chose it."""
    try:
        yield
    except (OSError, ValueError, RuntimeError, AssertionError) as exc:
        from .errors import QAError

        if hub_unreachable.cache_info().currsize and hub_options(name):
            raise QAError(hub_unreachable_error(what, name)) from exc
        why = " ".join(str(exc).split()) or exc.__class__.__name__
        raise QAError(f"cannot load the {what} {name!r}: {why[:300]}") from exc


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)  # read by setting it: once, at import, before any thread writes a file
    os.umask(mask)
    return mask


_UMASK = _umask()


def temp_dir(parent: Path, prefix: str) -> Path:
    """A new empty folder in ``parent`` to fill and then move into place, with the permissions a folder made
    there gets (``tempfile.mkdtemp`` makes it private, 0700, which the index it becomes would keep)."""
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    os.chmod(tmp, 0o777 & ~_UMASK)
    return tmp


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` with ``write(file)``: all of it, or (on any error) nothing, the old file left as it was.
    The file gets the permissions a new file gets (the umask's), not the temporary file's private 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def staging_dir(out: Path) -> Path:
    """An empty folder beside ``out`` (``out.partial``) to write a new ``out`` into, for :func:`replace_dir`."""
    import shutil

    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def replace_dir(done: Path, out: Path) -> None:
    """Move the finished folder ``done`` to ``out``; a folder already at ``out`` is moved aside first and
    removed only once the new one is in place."""
    import shutil

    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    done.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def folder_lock(folder: Path, what: str = "the index") -> Iterator[None]:
    """Hold ``folder``'s lock (``folder/.lock``, created with the folder if need be) while the block runs, so that
    two processes never write one index at once, nor read it half-written. A process that finds it taken says
    so once and waits for it: the lock is the operating system's (``filelock``), released when its holder exits,
    however it exits, so it cannot be left stale. Where no lock file can be made (a read-only folder), the block
    runs without one. Re-entrant within a thread."""
    import filelock

    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(folder / LOCK_NAME, is_singleton=True)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            logger.warning("%s: another process is building or updating %s; waiting for it to finish", folder, what)
            lock.acquire()
    except OSError as exc:
        logger.info("%s: not locked (%s)", folder, exc.strerror or exc)
        yield
        return
    try:
        yield
    finally:
        lock.release()
        # a folder made only to hold the lock of what then failed (no documents, say) is not left behind
        if created and lock.lock_counter == 0:
            with contextlib.suppress(OSError):
                if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                    (folder / LOCK_NAME).unlink()
                    folder.rmdir()
