"""``python -m suite`` is the ``sightline`` command."""

from __future__ import annotations

from suite import main

raise SystemExit(main())
