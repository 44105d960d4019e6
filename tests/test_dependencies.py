"""requirements.lock agrees with pyproject.toml, and pyproject.toml bounds every dependency.

`make test` and `make run` install only what requirements.lock pins, checked against its
hashes, and then the project with --no-deps. So a dependency added to pyproject.toml without
running `make lock` would simply be missing, and a bound changed without re-locking would be
ignored: these tests catch both before anyone installs. They also hold pyproject.toml to
upper bounds below the next major version, except for the few packages in UNBOUNDED_OK.
"""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

# Dependencies allowed without an upper bound, each with the reason.
UNBOUNDED_OK = {
    # Versioned by release date (2026.11.19): the "major" number is the year and says
    # nothing about compatibility, so a bound on it would only block routine releases.
    "regex": "calendar-versioned",
    "pycountry": "calendar-versioned (26.2.16)",
}

# Operators that put a ceiling on the versions a specifier admits.
UPPER_BOUND_OPERATORS = {"<", "<=", "==", "===", "~="}


def declared(pyproject_text: str) -> list[Requirement]:
    """The runtime dependencies and the `test` extra, as pyproject.toml states them."""
    project = tomllib.loads(pyproject_text)["project"]
    lines = project.get("dependencies", []) + project.get("optional-dependencies", {}).get(
        "test", []
    )
    return [Requirement(line) for line in lines]


def locked(lock_text: str) -> dict[str, tuple[Requirement, list[str]]]:
    """Each requirement in a pip-compile lock file, by canonical name, with its hashes."""
    logical: list[str] = []
    pending = ""
    for raw in lock_text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        logical.append(pending)

    entries: dict[str, tuple[Requirement, list[str]]] = {}
    for line in logical:
        words = line.split()
        hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
        spec = " ".join(w for w in words if not w.startswith("--hash="))
        if spec.startswith("-"):
            raise AssertionError(f"requirements.lock: unexpected option line {line!r}")
        req = Requirement(spec)
        entries[canonicalize_name(req.name)] = (req, hashes)
    return entries


def problems(pyproject_text: str, lock_text: str) -> list[str]:
    """Everything wrong between the two files; empty when they agree."""
    found: list[str] = []
    lock = locked(lock_text)

    for name, (req, hashes) in sorted(lock.items()):
        pins = [s for s in req.specifier if s.operator == "=="]
        if len(pins) != 1 or len(req.specifier) != 1 or "*" in pins[0].version:
            found.append(f"{name}: requirements.lock has {req}, not one exact == pin")
        if not any(h.startswith("sha256:") for h in hashes):
            found.append(f"{name}: requirements.lock has no --hash=sha256: for it")

    declared_names = set()
    for req in declared(pyproject_text):
        name = canonicalize_name(req.name)
        declared_names.add(name)
        operators = {s.operator for s in req.specifier}
        if name not in UNBOUNDED_OK and not operators & UPPER_BOUND_OPERATORS:
            found.append(f"{name}: pyproject.toml gives no upper bound ({req})")
        if req.marker is not None and not req.marker.evaluate():
            continue  # not needed on this Python, so not in a lock made with it
        if name not in lock:
            found.append(f"{name}: in pyproject.toml but not in requirements.lock (make lock)")
            continue
        pins = [s.version for s in lock[name][0].specifier if s.operator == "=="]
        if pins and "*" not in pins[0]:
            pin = Version(pins[0])
            if not req.specifier.contains(pin, prereleases=True):
                found.append(
                    f"{name}: requirements.lock pins {pin}, outside pyproject.toml's "
                    f"{req.specifier} (make lock)"
                )

    for name in sorted(set(UNBOUNDED_OK) - declared_names):
        found.append(f"{name}: in UNBOUNDED_OK but no longer a dependency")
    return found


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_the_lock_file_pins_every_dependency_within_its_bounds():
    assert problems(read("pyproject.toml"), read("requirements.lock")) == []


def test_the_lock_file_carries_no_machine_specific_index_or_editable_lines():
    options = ("--index-url", "--extra-index-url", "--find-links", "-e ")
    for line in read("requirements.lock").splitlines():
        assert not line.startswith(options), line


# The checks above must be able to fail: each case below breaks one thing on purpose.

PYPROJECT = """
[project]
name = "demo"
dependencies = ["flask>=3.0,<4", "regex>=2023.0", "pycountry>=24.6"]
[project.optional-dependencies]
test = ["pytest>=8,<10"]
"""

LOCK = """
# via pip-compile
flask==3.1.3 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via demo (pyproject.toml)
pycountry==26.2.16 \\
    --hash=sha256:eeee
pytest==9.2.0 \\
    --hash=sha256:cccc
regex==2026.11.19 \\
    --hash=sha256:dddd
"""


def test_the_check_accepts_consistent_files():
    assert problems(PYPROJECT, LOCK) == []


def test_a_dependency_added_without_relocking_is_caught():
    pyproject = PYPROJECT.replace('"pycountry>=24.6"]', '"pycountry>=24.6", "requests>=2.31,<3"]')
    assert problems(pyproject, LOCK) == [
        "requests: in pyproject.toml but not in requirements.lock (make lock)"
    ]


def test_a_test_extra_added_without_relocking_is_caught():
    pyproject = PYPROJECT.replace('["pytest>=8,<10"]', '["pytest>=8,<10", "hypothesis>=6.100,<7"]')
    assert problems(pyproject, LOCK) == [
        "hypothesis: in pyproject.toml but not in requirements.lock (make lock)"
    ]


def test_a_dependency_without_an_upper_bound_is_caught():
    pyproject = PYPROJECT.replace('"flask>=3.0,<4"', '"flask>=3.0"')
    assert problems(pyproject, LOCK) == ["flask: pyproject.toml gives no upper bound (flask>=3.0)"]


def test_a_bound_changed_without_relocking_is_caught():
    pyproject = PYPROJECT.replace('"flask>=3.0,<4"', '"flask>=3.0,<3.1"')
    assert problems(pyproject, LOCK) == [
        "flask: requirements.lock pins 3.1.3, outside pyproject.toml's <3.1,>=3.0 (make lock)"
    ]


def test_a_pin_without_a_hash_or_without_an_exact_version_is_caught():
    lock = LOCK.replace("pytest==9.2.0 \\\n    --hash=sha256:cccc", "pytest>=9")
    assert problems(PYPROJECT, lock) == [
        "pytest: requirements.lock has pytest>=9, not one exact == pin",
        "pytest: requirements.lock has no --hash=sha256: for it",
    ]
