"""``python -m ui [--docs DIR] [--index DIR] [--port N] [--host H] [--model M]``: the same as ``qa chat``."""

import sys

from qa.cli import main

if __name__ == "__main__":
    sys.exit(main(["chat", *sys.argv[1:]]))
