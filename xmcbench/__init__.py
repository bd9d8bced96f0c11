"""xmcbench: a benchmark harness for extreme multi-label text classification."""

from .hookspecs import hookimpl
from .types import Dataset, Method, Split, TopK

__version__ = "0.1.0"
__all__ = ["Dataset", "Method", "Split", "TopK", "__version__", "hookimpl"]
