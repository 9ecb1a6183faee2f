"""Which build of the shield the tests run against: `make pytest-compiled-shield` sets
TRADETALK_EXPECT_COMPILED_SHIELD, so a compiled build that failed to import (and left the pure
Python modules in its place) fails the run instead of passing unnoticed."""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest


def _compiled_modules() -> list[str]:
    """The modules setup.py compiles: its SHIELD_MODULES tuple, read without running it."""
    tree = ast.parse((Path(__file__).parents[2] / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "SHIELD_MODULES"
            for target in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no SHIELD_MODULES")


COMPILED = _compiled_modules()
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
