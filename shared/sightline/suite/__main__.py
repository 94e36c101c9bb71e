"""``python -m sightline.suite`` is the ``sightline`` command."""

from __future__ import annotations

from sightline.suite import main

raise SystemExit(main())
