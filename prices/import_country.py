"""Which country a price file belongs to, before its rows are read.

In order: the country the admin gives (`--country`); else the file's name, as HDX names
its country files (`wfp_food_prices_ken.csv`: KEN, so KE); else a country column in the
file (`countryiso3` in HDX exports that carry it, `country` in our template), read from
its first data row; else the one country the deployment serves, if it serves exactly one
(so the README's cron line without --country keeps working). If none of these tells, or
the country found is not one the deployment serves, the import is refused: markets filed
under the wrong country would be offered to the wrong farmers.
"""

from __future__ import annotations

import csv
import re
from itertools import islice
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prices import countries
from prices.country_codes import alpha2
from prices.importer import ImportFileError, is_hxl, normalise_country, read_header

# HDX's per-country files: wfp_food_prices_ken.csv, also saved as "... (1).csv" and the like.
_HDX_NAME = re.compile(r"wfp_food_prices_([a-z]{3})(?![a-z])", re.IGNORECASE)
_LOOK_ROWS = 10  # data rows looked at for the first one with a country (after #hashtags)


class CountryUnknown(ImportFileError):
    """Nothing tells which country the file's markets are in."""


class CountryNotServed(ImportFileError):
    """The file's country is not one the deployment serves."""


@dataclass(frozen=True, slots=True)
class FileCountry:
    code: str   # ISO 3166-1 alpha-2: KE
    how: str    # how it was found, for the admin: "the file name", ...


def detect(path: str | Path, settings: Mapping[str, Any], *,
           given: str | None = None) -> FileCountry:
    """The country of a price file (see the module's docstring) or CountryUnknown /
    CountryNotServed; ValueError for a `given` code that is not two letters."""
    found = (FileCountry(normalise_country(given), "--country") if given else None) \
        or _from_name(path) or _from_column(path) or _only(settings)
    if found is None:
        raise CountryUnknown(
            f"{path}: cannot tell which country its markets are in: give --country, name "
            "the file as HDX does (wfp_food_prices_ken.csv) or add a countryiso3 column; "
            f"this deployment serves {', '.join(countries.served(settings))}")
    served = countries.served(settings)
    if found.code not in served:
        raise CountryNotServed(
            f"{path}: its country is {found.code} (from {found.how}), which this deployment "
            f"does not serve (it serves {', '.join(served)}); add a [countries.{found.code}] "
            "table to the config first, or give the right --country")
    return found


def _from_name(path: str | Path) -> FileCountry | None:
    match = _HDX_NAME.search(Path(path).name)
    code = alpha2(match.group(1)) if match else None
    return FileCountry(code, "the file name") if code else None


def _from_column(path: str | Path) -> FileCountry | None:
    """The country cell of the first data row, if the file has such a column. A file that
    cannot be read gives None here: the import itself then says what is wrong with it."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            layout = read_header(reader, path)
            index = layout.index.get("country")
            first = next((row for row in islice(reader, _LOOK_ROWS)
                          if len(row) == layout.width and any(row) and not is_hxl(row)),
                         None) if index is not None else None
    except (OSError, UnicodeDecodeError, csv.Error, ImportFileError):
        return None
    if first is None or index is None or not first[index].strip():
        return None
    code = alpha2(first[index])
    label = layout.label["country"]
    if code is None:
        raise CountryUnknown(f"{path}: {label} {first[index].strip()!r} in the first data row "
                             "is not an ISO 3166 country code; give --country")
    return FileCountry(code, f"its {label} column")


def _only(settings: Mapping[str, Any]) -> FileCountry | None:
    code = countries.only(settings)
    return FileCountry(code, "the only country this deployment serves") if code else None
