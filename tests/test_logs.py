"""qa.logs: the library's warnings collected while a block runs."""

from __future__ import annotations

import logging

from qa.logs import warnings_during


def test_warnings_of_the_library_are_collected_as_one_line_each_inside_the_block_only(caplog) -> None:
    log = logging.getLogger("qa.documents")
    with caplog.at_level(logging.INFO, logger="qa"), warnings_during() as got:
        log.warning("a.txt: not UTF-8\n  (byte %d)", 3)
        log.info("not a warning")
        logging.getLogger("elsewhere").warning("not the library's")
    log.warning("after the block")
    assert got == ["a.txt: not UTF-8 (byte 3)"]
    assert any(r.getMessage() == "after the block" for r in caplog.records)  # still reaches the other handlers
    assert not any(isinstance(h, logging.Handler) and h.__class__.__name__ == "_Collect"
                   for h in logging.getLogger("qa").handlers)
