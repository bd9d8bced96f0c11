"""HTML from the package's Jinja2 templates (``templates/``), autoescaped, loaded on first use."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["render_template"]


@cache
def _environment() -> Any:
    """The template environment; jinja2 is imported here only, so other commands stay light."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("xmcbench.results", "templates"),
        autoescape=True,  # every value is text to show, never markup, unless wrapped in Markup
        undefined=StrictUndefined,  # a misspelt name in a template fails loudly
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(template: str, /, **values: Any) -> str:
    """The template named `template` filled in with `values` (each escaped as HTML text)."""
    return _environment().get_template(template).render(**values)
