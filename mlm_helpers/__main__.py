"""``python -m mlm_helpers``: see `mlm_helpers.cli`."""

from .cli import main

raise SystemExit(main())
