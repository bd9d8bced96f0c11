"""The text formats tables render to; a module of its own so the CLI can list them cheaply."""

from __future__ import annotations

__all__ = ["FORMATS"]

# `xmcbench.results.render` draws each; compare and report offer them as --format choices
FORMATS = ("table", "markdown", "latex", "csv", "html")
