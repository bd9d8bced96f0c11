"""Peer baselines for xmcbench, wrapping maintained implementations rather than rewriting them.

Importing this package imports no learning library; each method module imports its own.
"""

__version__ = "0.1.0"
