"""`python -m session_reaper.commands.cli`: the `session-reaper` command (tests run it this way)."""

import sys

from session_reaper.commands.cli import main

if __name__ == "__main__":  # imported (tests/test_errors.py imports every module): do nothing
    main()
    sys.exit(0)
