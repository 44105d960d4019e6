"""`smsgw import prices`: a thin shell over the prices importer (filled in by the prices work)."""

from __future__ import annotations
