"""The `xmcbench` command line, one module per verb group; it parses, then calls the library.

`app` (parser, `main`, error policy) on `base` (what a command is), `options` (options shared
by several commands) and `console` (where output goes); the groups: `runs` (run, sweep, fuse),
`reports` (compare, leaderboard, report), `inference` (predict, explain), `listings` (plugins,
methods, metrics), `data` (datasets, embeddings). No library module imports this package.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
