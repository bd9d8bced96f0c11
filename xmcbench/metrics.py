"""Ranking metrics for extreme multi-label classification, matching pyxclib's ``xc_metrics``.

Definitions follow ``xclib/evaluation/xc_metrics.py`` (kunaldahiya/pyxclib), the
Extreme Classification Repository's reference code; every value is a fraction in
[0, 1], not a percentage.

Inputs
    ``pred``: ranked label ids, shape (n, kmax), best first; ``-1`` means "no prediction"
    and is a miss (pyxclib pads top-k lists with an empty column, which is also a miss).
    A list of lists is accepted and ragged rows are padded with ``-1``. When kmax < k the
    missing ranks are misses. Rows are assumed to hold distinct ids.
    ``truth``: scipy sparse (n, L), dense (n, L) or a list of label-id lists. Any nonzero
    entry is relevant (pyxclib uses the stored values; for 0/1 data that is the same).

Semantics (n = all rows, including rows without any true label)
    P@k      = sum_i hits_i@k / (n * k).
    nDCG@k   = mean_i DCG_i@k / IDCG_i@k with gain 1/log2(rank + 1), IDCG over
               min(k, |y_i|) ones. pyxclib indexes its IDCG table with |y_i| - 1 = -1 for
               a row without labels, which picks the table's last (largest) entry; the
               DCG is 0 there, so such rows score 0 but stay in the mean. Same here.
    PSP@k    = sum_i sum_{r<=k} hit_ir * w(l_ir)  /  the same sum for the ideal ranking,
               where w is the inverse propensity and the ideal ranking puts each row's
               true labels in decreasing w (pyxclib: top-k of the w-weighted truth). The
               ratio is of dataset-level sums (pyxclib: ratio of means, n cancels).
    PSnDCG@k = sum_i wDCG_i@k / IDCG_i@k  /  the same for the ideal ranking; IDCG_i is the
               UNWEIGHTED one in both numerator and denominator, as in pyxclib.
    Test labels never seen in training keep their (largest) inverse propensity and stay in
    the truth. Where pyxclib would divide 0 by 0 (no relevant label in the whole set) the
    propensity-scored metrics here return 0.0 instead of NaN.

All work is vectorised over the (n, k) prediction matrix: hits come from one
``np.searchsorted`` of (row, label) keys, the ideal ranking from one sort of the truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp

__all__ = [
    "DEFAULT_KS",
    "evaluate",
    "inverse_propensity",
    "label_ids",
    "ndcg_at_k",
    "precision_at_k",
    "psndcg_at_k",
    "psprecision_at_k",
]

LabelLists: TypeAlias = Sequence[Sequence[int]]
SparseLike: TypeAlias = "sp.spmatrix | sp.sparray"
TruthLike: TypeAlias = "SparseLike | np.ndarray | LabelLists"
PredLike: TypeAlias = "np.ndarray | LabelLists"

DEFAULT_KS: tuple[int, ...] = (1, 3, 5)  # the cut-offs every run is scored at, as the paper's
PROPENSITY_A = 0.55  # Jain et al. 2016 defaults for datasets whose card names no [propensity]
PROPENSITY_B = 1.5


# --------------------------------------------------------------------------- propensity


def inverse_propensity(
    train_labels: SparseLike | np.ndarray, a: float = PROPENSITY_A, b: float = PROPENSITY_B
) -> np.ndarray:
    """Inverse propensity per label (Jain et al. 2016), shape (L,) float64.

    ``1 + C (N_l + B)^-A`` with ``C = (ln N - 1)(B + 1)^A``; rare labels weigh more in PS metrics.
    """
    n_docs, n_labels = _matrix_shape(train_labels)
    if n_docs == 0:
        raise ValueError("train_labels has no rows; propensities need at least one document")
    if sp.issparse(train_labels):
        m = sp.csr_matrix(train_labels)
        if not m.has_canonical_format:
            m = m.copy()
            m.sum_duplicates()
        freqs = np.bincount(m.indices[m.data != 0], minlength=n_labels)  # (L,)
    else:
        freqs = np.count_nonzero(np.asarray(train_labels), axis=0)  # (L,)
    c = (np.log(n_docs) - 1.0) * (b + 1.0) ** a
    return 1.0 + c * (freqs.astype(np.float64) + b) ** (-a)


def _matrix_shape(m: object) -> tuple[int, int]:
    """Shape of a 2-D sparse or dense matrix, with a clear error otherwise."""
    shape = getattr(m, "shape", None)
    if shape is None:
        shape = np.shape(np.asarray(m))
    if len(shape) != 2:
        raise ValueError(f"expected a 2-D (n, L) label matrix, got shape {tuple(shape)}")
    return int(shape[0]), int(shape[1])


# --------------------------------------------------------------------------- input coercion


@dataclass(frozen=True)
class _Truth:
    """Ground truth as CSR-like arrays with unique, row-sorted label ids."""

    indptr: np.ndarray  # (n + 1,) int64
    indices: np.ndarray  # (nnz,) int64, sorted within each row
    rows: np.ndarray  # (nnz,) int64, row id of each entry (non-decreasing)
    keys: np.ndarray  # (nnz,) int64, rows * stride + indices, strictly increasing
    n_labels: int | None  # None when the truth came as lists (no declared width)
    stride: int  # key multiplier, > every label id

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)  # (n,)


def _truth_from_pairs(
    rows: np.ndarray, cols: np.ndarray, n_rows: int, n_labels: int | None
) -> _Truth:
    """Build a canonical truth from (row, label) pairs, removing duplicates."""
    rows = rows.astype(np.int64, copy=False)
    cols = cols.astype(np.int64, copy=False)
    if cols.size and cols.min() < 0:
        raise ValueError("truth label ids must be >= 0")
    top = int(cols.max()) + 1 if cols.size else 0
    stride = max(top, n_labels or 0, 1)
    keys = rows * stride + cols  # (nnz,)
    if keys.size > 1 and not bool(np.all(keys[1:] > keys[:-1])):
        keys = np.unique(keys)
    rows = keys // stride
    cols = keys - rows * stride
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return _Truth(indptr, cols, rows, keys, n_labels, stride)


def _as_truth(truth: object) -> _Truth:
    """Coerce a sparse matrix, dense array or list of label lists into a ``_Truth``."""
    if sp.issparse(truth):
        n_rows, n_labels = _matrix_shape(truth)
        m = sp.csr_matrix(truth)
        counts = np.diff(m.indptr).astype(np.int64)
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), counts)  # (nnz,)
        keep = m.data != 0
        return _truth_from_pairs(rows[keep], m.indices[keep], n_rows, n_labels)
    if isinstance(truth, np.ndarray):
        n_rows, n_labels = _matrix_shape(truth)
        rows, cols = np.nonzero(truth)
        return _truth_from_pairs(rows, cols, n_rows, n_labels)
    if isinstance(truth, Sequence) and not isinstance(truth, str | bytes):
        lengths = np.fromiter((len(r) for r in truth), dtype=np.int64, count=len(truth))
        flat = np.fromiter(itertools.chain.from_iterable(truth), dtype=np.int64)
        rows = np.repeat(np.arange(len(truth), dtype=np.int64), lengths)
        return _truth_from_pairs(rows, flat, len(truth), None)
    raise ValueError(f"unsupported truth type {type(truth).__name__}; use CSR, ndarray or lists")


def _as_pred(pred: object, kmax: int) -> np.ndarray:
    """Coerce predictions into an int64 (n, kmax) matrix, padding or cutting with -1."""
    if isinstance(pred, np.ndarray):
        if pred.ndim != 2:
            raise ValueError(f"pred must be 2-D (n, k) label ids, got shape {pred.shape}")
        if pred.size and not np.issubdtype(pred.dtype, np.integer):
            raise ValueError(f"pred must hold integer label ids, got dtype {pred.dtype}")
        ids = pred[:, :kmax].astype(np.int64, copy=False)  # (n, <=kmax)
    elif isinstance(pred, Sequence) and not isinstance(pred, str | bytes):
        ids = _pad_lists(pred, kmax)
    else:
        raise ValueError(f"unsupported pred type {type(pred).__name__}; use ndarray or lists")
    if ids.shape[1] < kmax:
        pad = np.full((ids.shape[0], kmax - ids.shape[1]), -1, dtype=np.int64)
        ids = np.hstack([ids, pad])
    if ids.size and ids.min() < -1:
        raise ValueError("pred label ids must be >= 0, or -1 for 'no prediction'")
    return ids  # (n, kmax)


def label_ids(pred: PredLike, k: int) -> np.ndarray:
    """Ranked label ids as the (n, k) int64 matrix every metric reads, padded or cut with -1."""
    return _as_pred(pred, k)


def _pad_lists(pred: LabelLists, kmax: int) -> np.ndarray:
    """Ragged list of ranked ids -> (n, kmax) int64 padded with -1."""
    n = len(pred)
    lengths = np.fromiter((min(len(r), kmax) for r in pred), dtype=np.int64, count=n)
    flat = np.fromiter(
        itertools.chain.from_iterable(r[:kmax] for r in pred), dtype=np.int64, count=lengths.sum()
    )
    starts = np.cumsum(lengths) - lengths  # (n,)
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    ranks = np.arange(flat.size, dtype=np.int64) - np.repeat(starts, lengths)
    out = np.full((n, kmax), -1, dtype=np.int64)
    out[rows, ranks] = flat
    return out


# --------------------------------------------------------------------------- shared work


@dataclass(frozen=True)
class _Prepared:
    """Everything the metrics need, computed once per (pred, truth, kmax)."""

    hits: np.ndarray  # (n, kmax) bool
    counts: np.ndarray  # (n,) number of true labels per row
    gains: np.ndarray | None  # (n, kmax) inverse propensity of each hit, else 0
    ideal: np.ndarray | None  # (n, kmax) inverse propensities of the ideal ranking


def _hits(ids: np.ndarray, truth: _Truth) -> np.ndarray:
    """Mark which predicted ids are relevant, via a sorted-key binary search."""
    n, k = ids.shape
    if truth.keys.size == 0:
        return np.zeros((n, k), dtype=bool)
    valid = (ids >= 0) & (ids < truth.stride)  # (n, k); larger ids cannot be in the truth
    rows = np.arange(n, dtype=np.int64)[:, None]  # (n, 1)
    query = np.where(valid, rows * truth.stride + ids, -1)  # (n, k)
    pos = np.searchsorted(truth.keys, query.ravel())  # (n*k,)
    np.minimum(pos, truth.keys.size - 1, out=pos)
    return (truth.keys[pos] == query.ravel()).reshape(n, k) & valid  # (n, k)


def _ideal_gains(truth: _Truth, inv_prop: np.ndarray, kmax: int) -> np.ndarray:
    """Inverse propensities of each row's true labels, sorted descending, first kmax."""
    n = truth.n_rows
    ideal = np.zeros((n, kmax), dtype=np.float64)  # (n, kmax)
    if truth.indices.size == 0:
        return ideal
    order = np.argsort(-inv_prop, kind="stable")  # (L,) labels by decreasing weight
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(order.size)
    stride = max(order.size, 1)
    # Sorting (row, weight-rank) keys groups rows and orders each row by weight at once.
    keys = np.sort(truth.rows * stride + rank_of[truth.indices])  # (nnz,)
    pos_in_row = np.arange(keys.size) - truth.indptr[truth.rows]  # (nnz,)
    keep = pos_in_row < kmax
    label_rank = keys[keep] - truth.rows[keep] * stride
    ideal[truth.rows[keep], pos_in_row[keep]] = inv_prop[order[label_rank]]
    return ideal


def _check_inv_prop(inv_prop: np.ndarray | Sequence[float], truth: _Truth) -> np.ndarray:
    """Validate the propensity vector against the truth's label space."""
    w = np.asarray(inv_prop, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"inv_prop must be 1-D (L,), got shape {w.shape}")
    if truth.n_labels is not None and w.size != truth.n_labels:
        raise ValueError(f"inv_prop has {w.size} labels but truth has {truth.n_labels} columns")
    if truth.indices.size and int(truth.indices.max()) >= w.size:
        raise ValueError(f"truth holds label id {int(truth.indices.max())} >= len(inv_prop)")
    return w


def _prepare(
    pred: object, truth: object, kmax: int, inv_prop: np.ndarray | Sequence[float] | None
) -> _Prepared:
    """Coerce and validate inputs, then compute the hit matrix and (optionally) gains."""
    if kmax < 1:
        raise ValueError(f"k must be >= 1, got {kmax}")
    t = _as_truth(truth)
    ids = _as_pred(pred, kmax)  # (n, kmax)
    if ids.shape[0] != t.n_rows:
        raise ValueError(f"pred has {ids.shape[0]} rows but truth has {t.n_rows} rows")
    if t.n_rows == 0:
        raise ValueError("cannot evaluate on zero rows")
    if t.n_labels is not None and ids.size and int(ids.max()) >= t.n_labels:
        raise ValueError(f"pred holds label id {int(ids.max())} >= number of labels {t.n_labels}")
    hits = _hits(ids, t)  # (n, kmax)
    if inv_prop is None:
        return _Prepared(hits, t.counts, None, None)
    w = _check_inv_prop(inv_prop, t)
    gains = np.zeros(hits.shape, dtype=np.float64)  # (n, kmax)
    gains[hits] = w[ids[hits]]
    return _Prepared(hits, t.counts, gains, _ideal_gains(t, w, kmax))


# --------------------------------------------------------------------------- metric maths


def _discounts(k: int) -> np.ndarray:
    """DCG discount 1/log2(rank + 1) for ranks 1..k, shape (k,)."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _idcg(counts: np.ndarray, k: int) -> np.ndarray:
    """Per-row unweighted ideal DCG over min(k, |y|) ones; 0 for rows without labels."""
    table = np.concatenate([[0.0], np.cumsum(_discounts(k))])  # (k + 1,)
    return table[np.minimum(counts, k)]  # (n,)


def _safe_ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """num / den, with 0 wherever den is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def _p(prep: _Prepared, k: int) -> float:
    return float(np.count_nonzero(prep.hits[:, :k]) / (prep.hits.shape[0] * k))


def _ndcg(prep: _Prepared, k: int) -> float:
    dcg = prep.hits[:, :k] @ _discounts(k)  # (n,)
    return float(_safe_ratio(dcg, _idcg(prep.counts, k)).mean())


def _psp(prep: _Prepared, k: int) -> float:
    assert prep.gains is not None and prep.ideal is not None
    return float(_safe_ratio(prep.gains[:, :k].sum(), prep.ideal[:, :k].sum()))


def _psndcg(prep: _Prepared, k: int) -> float:
    assert prep.gains is not None and prep.ideal is not None
    disc, idcg = _discounts(k), _idcg(prep.counts, k)
    num = _safe_ratio(prep.gains[:, :k] @ disc, idcg).sum()
    den = _safe_ratio(prep.ideal[:, :k] @ disc, idcg).sum()
    return float(_safe_ratio(num, den))


# --------------------------------------------------------------------------- public API


def precision_at_k(pred: PredLike, truth: TruthLike, k: int) -> float:
    """P@k: share of the top-k slots that hold a relevant label, over all rows."""
    return _p(_prepare(pred, truth, k, None), k)


def ndcg_at_k(pred: PredLike, truth: TruthLike, k: int) -> float:
    """nDCG@k with log2 discount and per-row IDCG; rewards relevant labels ranked early."""
    return _ndcg(_prepare(pred, truth, k, None), k)


def psprecision_at_k(
    pred: PredLike, truth: TruthLike, k: int, inv_prop: np.ndarray | Sequence[float]
) -> float:
    """Propensity-scored P@k normalised by the ideal ranking; rewards rare (tail) labels."""
    return _psp(_prepare(pred, truth, k, inv_prop), k)


def psndcg_at_k(
    pred: PredLike, truth: TruthLike, k: int, inv_prop: np.ndarray | Sequence[float]
) -> float:
    """Propensity-scored nDCG@k normalised by the ideal ranking, as pyxclib computes it."""
    return _psndcg(_prepare(pred, truth, k, inv_prop), k)


def evaluate(
    pred: PredLike,
    truth: TruthLike,
    ks: Sequence[int] = DEFAULT_KS,
    inv_prop: np.ndarray | Sequence[float] | None = None,
) -> dict[str, float]:
    """All metrics at every k in ``ks`` from one shared hit matrix.

    Keys ``p@k``, ``ndcg@k`` and, when ``inv_prop`` is given, ``psp@k`` and ``psndcg@k``.
    """
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be a non-empty sequence of positive ints, got {ks}")
    prep = _prepare(pred, truth, max(ks), inv_prop)
    out: dict[str, float] = {}
    for k in ks:
        out[f"p@{k}"] = _p(prep, k)
        out[f"ndcg@{k}"] = _ndcg(prep, k)
        if inv_prop is not None:
            out[f"psp@{k}"] = _psp(prep, k)
            out[f"psndcg@{k}"] = _psndcg(prep, k)
    return out
