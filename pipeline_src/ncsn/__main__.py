"""Entry point for ``python -m ncsn``."""

from ncsn.cli import main

raise SystemExit(main())
