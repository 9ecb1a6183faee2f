"""Jinja2 templates of emails and of the few notification pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # HTML escapes every value; text templates must not (they would show &amp; to readers).
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(name: str, **context: Any) -> str:
    """Render one HTML page template."""
    return _environment().get_template(name).render(**context)


def render_email(name: str, **context: Any) -> tuple[str, str]:
    """Render the text and HTML parts of an email template."""
    environment = _environment()
    text = environment.get_template(f"{name}.txt").render(**context)
    html = environment.get_template(f"{name}.html").render(**context)
    return text, html
