"""libpecos 1.2.8 on NumPy 2 and SciPy >= 1.14: one sparse constructor of PECOS replaced.

libpecos 1.2.8's metadata pins numpy<2 and scipy<1.14, so the README installs it with
``--no-deps`` next to current ones (plugins/baselines/pyproject.toml says why). The one helper
of PECOS that breaks on the XR-Linear path is `pecos.utils.smat_util.cs_matrix`: it calls
``scipy.sparse.sputils.get_index_dtype`` (gone in SciPy 1.14) and ``np.array(..., copy=False)``
(an error in NumPy 2 when a cast is needed). `ensure_compatible` swaps in a version that lets
scipy's constructor choose the index types; with the pinned versions it changes nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

_MARK = "_xmcbench_compatible"


def needs_patch() -> bool:
    """True when NumPy >= 2 or SciPy no longer has the helper libpecos 1.2.8 calls."""
    if int(np.__version__.split(".")[0]) >= 2:
        return True
    with warnings.catch_warnings():  # SciPy 1.8-1.13 warn that the module is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            sp.sputils.get_index_dtype  # noqa: B018 - the attribute libpecos looks up
        except AttributeError:
            return True
    return False


def ensure_compatible() -> None:
    """Make PECOS's sparse constructor work on the installed NumPy and SciPy (idempotent)."""
    from pecos.utils import smat_util

    if getattr(smat_util, _MARK, False) or not needs_patch():
        return
    smat_util.cs_matrix = compressed_matrix
    setattr(smat_util, _MARK, True)


def compressed_matrix(
    arg1: tuple[Any, Any, Any],
    mat_type: type,
    shape: tuple[int, int] | None = None,
    dtype: Any = None,
    copy: bool = False,
    check_contents: bool = False,
) -> Any:
    """`smat_util.cs_matrix`'s contract (a CSR or CSC matrix from its three arrays) on any
    NumPy/SciPy: scipy picks one index type that holds both arrays, copying only if it must."""
    data, indices, indptr = arg1
    values = np.asarray(data, dtype=dtype)
    return mat_type((values, indices, indptr), shape=shape, copy=copy)
