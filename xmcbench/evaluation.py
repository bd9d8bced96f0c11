"""`xmcbench.evaluate`: score top-k label ids or a score matrix against true labels.

The one scoring entry point, for users and for the runner alike (every run's metrics come from
here). Predictions become an (n, k) matrix of label ids, best first; each metric family is then
computed at every k by its registered function: the built-in P, nDCG, PSP and PSnDCG follow
pyxclib's ``xc_metrics`` (see `xmcbench.metrics`), and plugins may add families.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import scipy.sparse as sp

from .errors import UnknownNameError, XMCBenchError
from .metrics import DEFAULT_KS, PROPENSITY_A, PROPENSITY_B, inverse_propensity, label_ids
from .types import Dataset, TopK, dense_topk_ids

if TYPE_CHECKING:
    from .registry import MetricSpec

__all__ = ["EvaluationError", "evaluate", "inv_propensity", "scores_to_topk"]

Predictions: TypeAlias = "TopK | np.ndarray | sp.spmatrix | sp.sparray | Sequence[Sequence[int]]"
TrueLabels: TypeAlias = "sp.spmatrix | sp.sparray | np.ndarray | Sequence[Sequence[int]]"


class EvaluationError(XMCBenchError, ValueError):
    """Predictions, labels or options that cannot be scored; the message names the problem."""


def evaluate(
    predictions: Predictions,
    true_labels: TrueLabels,
    inv_prop: np.ndarray | Sequence[float] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
    metrics: Iterable[str | MetricSpec] | None = None,
) -> dict[str, float]:
    """Every metric at every k, as fractions: ``{"p@1": 0.73, "ndcg@1": 0.73, ...}``.

    `predictions` are top-k label ids (a `TopK`, an (n, k) integer array or lists; best first,
    -1 for none) or scores (a float (n, L) array or a scipy.sparse matrix, whose top max(ks) per
    row are taken; equal scores rank the lower label id first; a sparse matrix predicts only the
    entries it stores). `true_labels` is an (n, L) 0/1 matrix (sparse or dense) or lists of label
    ids. `metrics` names families (``"p"``, ``"ndcg"``, ``"psp"``, ``"psndcg"`` or a plugin's);
    None means every registered family, the propensity-scored ones only when `inv_prop` (the
    inverse propensity of each label, see `inv_propensity`) is given. Raises ValueError
    (`EvaluationError`) naming what is wrong with the inputs.
    """
    ks = _check_ks(ks)
    specs = _metric_specs(metrics, with_propensity=inv_prop is not None)
    truth = _as_truth(true_labels)
    ids, score_columns = _as_label_ids(predictions, max(ks))
    n_rows = truth.shape[0] if isinstance(truth, sp.csr_matrix) else len(truth)
    if ids.shape[0] != n_rows:
        raise EvaluationError(
            f"predictions have {ids.shape[0]} rows but true_labels has {n_rows}: "
            "one row of predictions per document"
        )
    if n_rows == 0:
        raise EvaluationError("nothing to evaluate: true_labels has no rows")
    weights = None if inv_prop is None else _as_inv_prop(inv_prop)
    truth = _truth_matrix(truth, ids, score_columns, weights)
    if score_columns is not None and score_columns != truth.shape[1]:
        raise EvaluationError(
            f"the score matrix has {score_columns} columns but true_labels has "
            f"{truth.shape[1]} labels"
        )
    if ids.size and int(ids.max()) >= truth.shape[1]:
        raise EvaluationError(
            f"predictions hold label id {int(ids.max())} but true_labels has "
            f"{truth.shape[1]} labels (ids 0..{truth.shape[1] - 1})"
        )
    if weights is not None and weights.size != truth.shape[1]:
        raise EvaluationError(
            f"inv_prop has {weights.size} entries but true_labels has {truth.shape[1]} labels"
        )
    results: dict[str, float] = {}
    for spec in specs:
        for k in ks:
            args = (ids, truth, k)
            value = spec.function(*args, weights) if spec.needs_propensity else spec.function(*args)
            results[f"{spec.name}@{k}"] = float(value)
    return results


def inv_propensity(
    labels: Dataset | sp.spmatrix | sp.sparray | np.ndarray,
    a: float | None = None,
    b: float | None = None,
) -> np.ndarray:
    """Inverse propensity of each label (Jain et al. 2016), the weights of PSP and PSnDCG.

    Give the training label matrix (default A=0.55, B=1.5), or a loaded `Dataset`: then its
    whole training file and the A and B its card names, exactly as its runs are scored.
    """
    if isinstance(labels, Dataset):
        a = labels.propensity_a if a is None else a
        b = labels.propensity_b if b is None else b
        labels = labels.propensity_labels
    a = PROPENSITY_A if a is None else a
    b = PROPENSITY_B if b is None else b
    return inverse_propensity(labels, a, b)


def scores_to_topk(scores: np.ndarray | sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """The k best label ids of each row of a score matrix, (n, k) int64, -1 past the candidates.

    Deterministic: equal scores rank the lower label id first. Of a sparse matrix only stored
    entries are candidates; a dense row with fewer than k columns is padded with -1.
    """
    if k < 1:
        raise EvaluationError(f"k must be >= 1, got {k}")
    if sp.issparse(scores):
        return _sparse_topk(scores, k)
    matrix = np.asarray(scores)
    if matrix.ndim != 2:
        raise EvaluationError(f"scores must be a 2-D (n, labels) matrix, got shape {matrix.shape}")
    return _dense_topk(matrix, k)


# --------------------------------------------------------------------------- checks


def _check_ks(ks: Sequence[int] | int) -> list[int]:
    """Cut-offs as positive ints, in the order given, each once."""
    try:
        values = [ks] if isinstance(ks, int | np.integer) else list(ks)
    except TypeError:
        values = []
    integers = all(isinstance(k, int | np.integer) and not isinstance(k, bool) for k in values)
    if not values or not integers:
        raise EvaluationError(f"ks must be a non-empty sequence of integers, got {ks!r}")
    if min(values) < 1:
        raise EvaluationError(f"ks must be >= 1, got {ks!r}")
    return list(dict.fromkeys(int(k) for k in values))


def _metric_specs(
    metrics: Iterable[str | MetricSpec] | str | None, *, with_propensity: bool
) -> list[MetricSpec]:
    """The families to compute: named ones checked, or all registered (PS ones need inv_prop)."""
    from .plugins import metric_registry
    from .registry import MetricSpec

    if metrics is None:
        every = sorted(metric_registry(), key=lambda spec: (spec.order, spec.name))  # P, N, ...
        return [spec for spec in every if with_propensity or not spec.needs_propensity]
    items = [metrics] if isinstance(metrics, str | MetricSpec) else list(metrics)
    if not items:
        raise EvaluationError("metrics is empty; leave it None for every registered metric")
    specs: list[MetricSpec] = []
    for item in items:
        spec = item if isinstance(item, MetricSpec) else _named_metric(item)
        if spec.needs_propensity and not with_propensity:
            raise EvaluationError(
                f"metric {spec.name!r} needs inv_prop, the inverse propensity of each label "
                "(xmcbench.inv_propensity(train_labels))"
            )
        if spec not in specs:
            specs.append(spec)
    return specs


def _named_metric(name: object) -> MetricSpec:
    """A registered family by name or alias (``"p"``, ``"n"``); a cut-off is ks's job."""
    from .plugins import metric_registry

    if not isinstance(name, str) or "@" in name:
        raise EvaluationError(
            f"metrics takes family names such as 'p' or 'psp', got {name!r} (ks sets the k)"
        )
    try:
        return metric_registry().get(name.lower())
    except UnknownNameError as exc:
        raise EvaluationError(str(exc)) from None


def _as_inv_prop(inv_prop: np.ndarray | Sequence[float]) -> np.ndarray:
    """The propensity weights as a finite 1-D float64 vector."""
    try:
        weights = np.asarray(inv_prop, dtype=np.float64)
    except (TypeError, ValueError):
        raise EvaluationError("inv_prop must be a 1-D array of numbers, one per label") from None
    if weights.ndim != 1 or not np.isfinite(weights).all():
        raise EvaluationError(
            f"inv_prop must be a 1-D array of finite numbers, one per label (shape {weights.shape})"
        )
    return weights


# --------------------------------------------------------------------------- true labels


def _as_truth(true_labels: TrueLabels) -> sp.csr_matrix | list[Sequence[int]]:
    """A CSR matrix, or the label lists as given (their width is settled with the predictions)."""
    if sp.issparse(true_labels):
        if len(true_labels.shape) != 2:
            raise EvaluationError(f"true_labels must be 2-D, got shape {true_labels.shape}")
        return sp.csr_matrix(true_labels)
    if isinstance(true_labels, np.ndarray):
        if true_labels.ndim != 2:
            raise EvaluationError(
                f"true_labels must be an (n, labels) 0/1 matrix, got shape {true_labels.shape}"
            )
        return sp.csr_matrix(true_labels)
    if isinstance(true_labels, Sequence) and not isinstance(true_labels, str | bytes):
        rows = list(true_labels)
        for i, row in enumerate(rows):
            if not isinstance(row, Sequence | np.ndarray) or isinstance(row, str | bytes):
                raise EvaluationError(f"true_labels row {i} is {row!r}, not a list of label ids")
        return rows
    raise EvaluationError(
        f"true_labels must be a scipy.sparse or numpy (n, labels) matrix or lists of label ids, "
        f"got {type(true_labels).__name__}"
    )


def _truth_matrix(
    truth: sp.csr_matrix | list[Sequence[int]],
    ids: np.ndarray,
    score_columns: int | None,
    weights: np.ndarray | None,
) -> sp.csr_matrix:
    """Label lists as a CSR 0/1 matrix wide enough for every id the inputs name."""
    if isinstance(truth, sp.csr_matrix):
        return truth
    lengths = np.fromiter((len(row) for row in truth), dtype=np.int64, count=len(truth))
    try:
        flat = np.fromiter(itertools.chain.from_iterable(truth), dtype=np.int64)
    except (TypeError, ValueError):
        raise EvaluationError("true_labels lists must hold integer label ids") from None
    if flat.size and flat.min() < 0:
        raise EvaluationError(f"true_labels holds label id {int(flat.min())}; ids are >= 0")
    width = max(
        int(flat.max()) + 1 if flat.size else 0,
        int(ids.max()) + 1 if ids.size else 0,
        score_columns or 0,
        weights.size if weights is not None else 0,
    )
    if weights is not None and width > weights.size:
        raise EvaluationError(
            f"label id {width - 1} is beyond inv_prop, which has {weights.size} entries"
        )
    rows = np.repeat(np.arange(len(truth), dtype=np.int64), lengths)
    data = np.ones(flat.size, dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, flat)), shape=(len(truth), width))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # a label listed twice is still one relevant label
    return matrix


# --------------------------------------------------------------------------- predictions


def _as_label_ids(predictions: Predictions, k: int) -> tuple[np.ndarray, int | None]:
    """(n, k) int64 label ids, and the number of score columns when scores were given."""
    if isinstance(predictions, TopK):
        return label_ids(predictions.labels, k), None
    if sp.issparse(predictions):
        if len(predictions.shape) != 2:
            raise EvaluationError(f"scores must be 2-D, got shape {predictions.shape}")
        return _sparse_topk(predictions, k), int(predictions.shape[1])
    if isinstance(predictions, np.ndarray):
        if predictions.ndim != 2:
            raise EvaluationError(
                "predictions must be 2-D: (n, k) label ids or (n, labels) scores, "
                f"got shape {predictions.shape}"
            )
        if np.issubdtype(predictions.dtype, np.integer):
            return _checked_ids(predictions, k), None
        if predictions.dtype == np.bool_ or np.issubdtype(predictions.dtype, np.floating):
            return _dense_topk(predictions, k), int(predictions.shape[1])
        raise EvaluationError(
            f"predictions of dtype {predictions.dtype}: give integer label ids or float scores"
        )
    if isinstance(predictions, Sequence) and not isinstance(predictions, str | bytes):
        return _checked_ids(predictions, k), None
    raise EvaluationError(
        "predictions must be a TopK, an (n, k) integer array or lists of label ids, or a "
        f"numpy/scipy.sparse score matrix; got {type(predictions).__name__}"
    )


def _checked_ids(predictions: np.ndarray | Sequence[Sequence[int]], k: int) -> np.ndarray:
    """Label ids as the metrics read them; a bad id is named."""
    try:
        return label_ids(predictions, k)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(str(exc).replace("pred ", "predicted ", 1)) from None


def _dense_topk(scores: np.ndarray, k: int) -> np.ndarray:
    """`dense_topk_ids` with its NaN complaint as an EvaluationError."""
    try:
        return dense_topk_ids(scores, k)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None


def _sparse_topk(scores: Any, k: int) -> np.ndarray:
    """Top k of each row's stored entries, ranked by (score desc, label id asc)."""
    matrix = sp.csr_matrix(scores)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    values = matrix.data.astype(np.float64)
    if np.isnan(values).any():
        raise EvaluationError("the score matrix holds NaN")
    n = matrix.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))  # (nnz,)
    order = np.lexsort((matrix.indices, -values, rows))  # row, then score desc, then id
    rank = np.arange(order.size, dtype=np.int64) - matrix.indptr[rows]  # rows stay in place
    keep = rank < k
    out = np.full((n, k), -1, dtype=np.int64)
    out[rows[keep], rank[keep]] = matrix.indices[order[keep]]
    return out
