"""``python -m thinkgym``: the same as the ``thinkgym`` command."""

from __future__ import annotations

import sys

from thinkgym.cli import main

if __name__ == "__main__":
    sys.exit(main())
