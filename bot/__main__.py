"""Allow `python -m bot`, the same as the `musl-check` console script."""

from bot.cli import main

raise SystemExit(main())
