"""The web chat over the ``qa`` library: ``qa chat`` or ``python -m ui`` (see :mod:`ui.app`)."""

from .app import ChatService, build_app, serve

__all__ = ["ChatService", "build_app", "serve"]
