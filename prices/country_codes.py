"""ISO 3166 country codes as price files write them: KE, or KEN as HDX does."""

from __future__ import annotations

import functools
import re

import pycountry

_CODE = re.compile(r"^[A-Za-z]{2,3}$")


@functools.lru_cache(maxsize=64)
def alpha2(code: str) -> str | None:
    """'KEN' or 'ke' -> 'KE'; None for anything that is not an ISO 3166-1 country code."""
    text = code.strip()
    if not _CODE.match(text):
        return None
    found = pycountry.countries.get(**{"alpha_2" if len(text) == 2 else "alpha_3": text.upper()})
    return None if found is None else str(found.alpha_2)
