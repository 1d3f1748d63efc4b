"""The locks (issue 11 item 12): every package pinned with hashes, the runtime lock a part of the dev lock.

`make lock-check` (run by `make test`) proves the locks are what requirements*.in compile to; it
needs PyPI. These checks need nothing and say what is wrong in a lock edited by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)$")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _entries(path: Path) -> list[str]:
    """The file's requirement lines, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _lock(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes), asserting each entry is an exact pin with hashes."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for entry in _entries(path):
        requirement, *options = entry.split()
        pin = _PIN.match(requirement)
        assert pin, f"{path.name}: not an exact pin: {entry[:80]}"
        hashes = frozenset(o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:"))
        assert hashes and len(hashes) == len(options), f"{path.name}: {requirement} needs sha256 hashes only"
        found[_name(pin[1])] = (pin[2], hashes)
    return found


def _top_level(path: Path) -> dict[str, str]:
    pins = {}
    for entry in _entries(path):
        if entry.startswith("-r "):
            continue
        pin = _PIN.match(entry)
        assert pin, f"{path.name}: top-level requirements are exact pins: {entry}"
        pins[_name(pin[1])] = pin[2]
    return pins


def test_every_package_of_both_locks_is_pinned_with_hashes() -> None:
    runtime, dev = _lock(ROOT / "requirements.txt"), _lock(ROOT / "requirements-dev.txt")
    assert len(runtime) > 20 and len(dev) > len(runtime)


def test_the_locks_name_no_index_or_local_path() -> None:
    """pip's own configuration says where packages come from (PyPI, or a machine's mirror of it)."""
    for name in ("requirements.txt", "requirements-dev.txt"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert not re.search(r"--(extra-)?index-url|--find-links|-f\s|file:|https?://", text), name


def test_the_locks_hold_the_top_level_pins() -> None:
    runtime, dev = _lock(ROOT / "requirements.txt"), _lock(ROOT / "requirements-dev.txt")
    for name, version in _top_level(ROOT / "requirements.in").items():
        assert runtime.get(name, ("missing",))[0] == version, name
    for name, version in _top_level(ROOT / "requirements-dev.in").items():
        assert dev.get(name, ("missing",))[0] == version, name


def test_tests_run_what_deploys() -> None:
    """The dev lock installs every runtime package at the runtime lock's version and hashes."""
    runtime, dev = _lock(ROOT / "requirements.txt"), _lock(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_runtime_lock_holds_no_tooling() -> None:
    runtime = _lock(ROOT / "requirements.txt")
    assert not {"chalice", "pip", "setuptools", "uv", "mypy", "pytest", "moto", "aws-cdk-lib"} & set(runtime)
