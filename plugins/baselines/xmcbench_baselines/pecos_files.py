"""An XR-Linear model folder as PECOS saves it, read back without trusting it.

PECOS's own loader passes `param.json` flags to its C++ loaders (memory-mapped models) and
hands matrices to C++ prediction with their indices unchecked, so a crafted folder could make
native code read out of bounds. Here every matrix is read with pickles refused, must be a
float CSC matrix whose indices pass scipy's full check, and the levels must chain (level d's
labels are level d+1's clusters); only then are PECOS's model objects built in memory.

Layout (libpecos 1.2.8): ``pecos/param.json``, ``pecos/ranker/param.json`` (``depth``) and
``pecos/ranker/<d>.model/{param.json, W.npz, C.npz}`` for each level d.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from xmcbench.errors import XMCBenchError

MODEL_DIR = "pecos"  # PECOS's folder inside the run's model folder
MAX_DEPTH = 64  # a label tree deeper than this is not one PECOS built (2^64 leaves)
MAX_DIM = 2**32 - 1  # PECOS's C++ matrices count rows and columns in uint32


def read_model(folder: Path, bias: float, post_processor: str) -> Any:
    """The XLinearModel saved in `folder`, built from checked matrices; one error if not valid."""
    from pecos.xmc import HierarchicalMLModel, MLModel
    from pecos.xmc.xlinear.model import XLinearModel

    ranker = folder / "ranker"
    depth = read_json(ranker / "param.json").get("depth")
    if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= MAX_DEPTH:
        raise not_ours(ranker / "param.json", f"depth {depth!r}")
    chain, n_rows, n_codes = [], None, 1  # the root level has one cluster: everything
    for level in range(depth):
        where = ranker / f"{level}.model"
        saved_bias = read_json(where / "param.json").get("bias")
        if not _is_number(saved_bias) or not math.isclose(saved_bias, bias, rel_tol=1e-6):
            raise not_ours(where / "param.json", f"bias {saved_bias!r}, the params say {bias}")
        weights, codes = read_csc(where / "W.npz"), read_csc(where / "C.npz")
        if codes.shape != (weights.shape[1], n_codes):
            raise not_ours(where / "C.npz", f"shape {codes.shape} does not chain with the tree")
        if n_rows is not None and weights.shape[0] != n_rows:
            raise not_ours(where / "W.npz", f"{weights.shape[0]} rows, level 0 has {n_rows}")
        if weights.shape[0] < (2 if bias > 0 else 1):
            raise not_ours(where / "W.npz", "no feature rows")
        n_rows, n_codes = weights.shape[0], weights.shape[1]
        params = MLModel.PredParams(post_processor=post_processor)
        chain.append(MLModel(W=weights, C=codes, bias=bias, pred_params=params))
    pred_params = HierarchicalMLModel.PredParams(model_chain=[m.pred_params for m in chain])
    return XLinearModel(HierarchicalMLModel(chain, pred_params=pred_params))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a saved model, else one error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise not_ours(path, "not JSON") from exc
    if not isinstance(data, dict):
        raise not_ours(path, "not a JSON object")
    return data


def read_csc(path: Path) -> sp.csc_matrix:
    """A float32 CSC matrix from scipy's .npz format, its structure fully checked; no pickle."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            parts = {key: saved[key] for key in ("format", "shape", "data", "indices", "indptr")}
    except (ValueError, KeyError, EOFError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise not_ours(path, "not a sparse matrix file without pickles") from exc
    fmt, shape = parts["format"], parts["shape"]
    kind = fmt.item() if fmt.shape == () and fmt.dtype.kind in "SU" else None
    if (kind.decode(errors="replace") if isinstance(kind, bytes) else kind) != "csc":
        raise not_ours(path, "not a CSC matrix")
    in_range = shape.ndim == 1 and ((shape >= 0) & (shape <= MAX_DIM)).all()
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or not in_range:
        raise not_ours(path, f"shape {shape.tolist()!r}")
    data, indices, indptr = parts["data"], parts["indices"], parts["indptr"]
    if data.ndim != 1 or data.dtype.kind != "f" or not np.isfinite(data).all():
        raise not_ours(path, "values that are not finite floats")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise not_ours(path, "indices that are not integers")
    try:
        matrix = sp.csc_matrix(
            (data.astype(np.float32), indices, indptr), shape=tuple(int(n) for n in shape)
        )
        matrix.check_format(full_check=True)  # indptr monotone, every index within the shape
    except ValueError as exc:
        raise not_ours(path, f"inconsistent sparse structure ({exc})") from exc
    matrix.sort_indices()
    return matrix


def not_ours(path: Path, why: str) -> XMCBenchError:
    """The error for a saved file that is not what `save` wrote."""
    return XMCBenchError(f"{path}: not a model written by xmcbench ({why})")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
