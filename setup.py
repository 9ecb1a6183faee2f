"""Packaging is in pyproject.toml; this file only adds the optional compiled contact shield.

With TRADETALK_COMPILE_SHIELD=1 the shield's pure detector modules are compiled with mypyc
(which comes with mypy) into C extensions that import in place of the .py files, a few times
faster; without it, or on a machine without a C compiler, tradetalk is pure Python. See
docs/performance.md ("The contact shield") for how the compiled build is made and tested.
"""

import os

from setuptools import setup

# The shield's pure modules: no I/O, fully typed (mypy strict), imported by detector.py.
# (tests/protection/test_build.py reads this tuple to know which modules must be compiled.)
SHIELD_MODULES = (
    "detector",
    "hit",
    "keywords",
    "links",
    "matching",
    "memo",
    "normalize",
    "phones",
    "tracking",
    "traps",
    "trie",
    "wordnums",
)

COMPILE = os.environ.get("TRADETALK_COMPILE_SHIELD") == "1"
ext_modules = []
if COMPILE:
    try:
        from mypyc.build import mypycify
    except ImportError:
        # Asked for below: the build front end (pip) installs it and runs this file again.
        pass
    else:
        # pyproject.toml's mypy settings name a plugin (pydantic) that the build environment
        # lacks, and phonenumbers and tldextract are not installed there: typed as Any.
        options = ["--config-file", os.devnull, "--ignore-missing-imports"]
        ext_modules = mypycify(
            options + [f"src/tradetalk/protection/{name}.py" for name in SHIELD_MODULES],
            opt_level="3",
            group_name="tradetalk_shield",
        )

# setup_requires is how setuptools' build backend learns a build requirement that only this
# build has: pip installs mypy into the isolated build environment when compiling.
setup(ext_modules=ext_modules, setup_requires=["mypy>=1.10,<2"] if COMPILE else [])
