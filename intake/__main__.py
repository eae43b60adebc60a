"""``python -m intake`` is the ``intake`` command (intake up starts its children this way)."""

from intake.cli import main

raise SystemExit(main())
