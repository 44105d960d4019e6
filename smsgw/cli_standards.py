"""`smsgw import standards`: a thin shell over the standards importer (filled in by the standards work)."""

from __future__ import annotations
