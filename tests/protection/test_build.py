"""Which build of the shield the tests run against: `make pytest-compiled-shield` sets
TRADETALK_EXPECT_COMPILED_SHIELD, so a compiled build that failed to import (and left the pure
Python modules in its place) fails the run instead of passing unnoticed."""

from __future__ import annotations

import importlib
import os

import pytest

# The modules setup.py compiles.
COMPILED = [
    "detector",
    "hit",
    "keywords",
    "links",
    "normalize",
    "phones",
    "tracking",
    "traps",
    "trie",
    "wordnums",
]


EXPECT_COMPILED = bool(os.environ.get("TRADETALK_EXPECT_COMPILED_SHIELD"))


@pytest.mark.parametrize("name", COMPILED)
def test_the_expected_build_of_each_module_is_imported(name: str) -> None:
    # Compiled pass: the compiled modules, not the .py files left in their place. Plain pass:
    # the sources, not a stale compiled module shadowing edited code.
    module = importlib.import_module(f"tradetalk.protection.{name}")
    assert (module.__file__ or "").endswith(".so") == EXPECT_COMPILED, module.__file__


def test_findings_stay_immutable() -> None:
    # Finding lives in a module the compiled build leaves as Python, so it refuses assignment
    # in either build.
    from dataclasses import FrozenInstanceError

    from tradetalk.protection.detector import Detector

    finding = Detector().scan("call me at 415-555-0199")[0]
    with pytest.raises(FrozenInstanceError):
        finding.kind = "other"  # type: ignore[misc]
