"""Tests for xmcbench.metrics: hand-computed cases, input forms, and properties vs a reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from xmcbench.metrics import (
    DEFAULT_KS,
    evaluate,
    inverse_propensity,
    ndcg_at_k,
    precision_at_k,
    psndcg_at_k,
    psprecision_at_k,
)
from xmcbench.registry import MetricSpec

D2, D3 = 1 / math.log2(3), 1 / math.log2(4)  # discounts at ranks 2 and 3: 0.63093, 0.5

# Shared hand example, L = 6 labels.
TRUTH = [[0, 2], [1], [], [3, 4, 5]]  # row 2 has no labels
PRED = [[2, 0, 1], [0, 1, -1], [4, -1, -1], [5, 1, 3]]  # kmax = 3, -1 = no prediction
W = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # inverse propensity of labels 0..5


def dense(lists: list[list[int]], n_labels: int) -> np.ndarray:
    out = np.zeros((len(lists), n_labels), dtype=np.int8)
    for i, row in enumerate(lists):
        out[i, row] = 1
    return out


# ------------------------------------------------------------------ slow per-row reference


def ref_metrics(pred: list[list[int]], truth: list[list[int]], k: int, w: np.ndarray) -> dict:
    """Obviously-correct per-row loops following pyxclib's definitions."""
    disc = [1 / math.log2(r + 2) for r in range(k)]
    p = nd = psp_num = psp_den = psn_num = psn_den = 0.0
    for ranked, labels in zip(pred, truth, strict=True):
        y = set(labels)
        top = [label for label in ranked[:k] if label != -1]
        ranks = [r for r, label in enumerate(ranked[:k]) if label != -1 and label in y]
        p += sum(1 for label in top if label in y) / k
        idcg = sum(disc[: min(k, len(y))])
        ideal_w = sorted((w[label] for label in y), reverse=True)[:k]
        psp_num += sum(w[ranked[r]] for r in ranks)
        psp_den += sum(ideal_w)
        if y:
            nd += sum(disc[r] for r in ranks) / idcg
            psn_num += sum(w[ranked[r]] * disc[r] for r in ranks) / idcg
            psn_den += sum(wi * disc[r] for r, wi in enumerate(ideal_w)) / idcg
    n = len(truth)
    return {
        "p": p / n,
        "ndcg": nd / n,
        "psp": psp_num / psp_den if psp_den else 0.0,
        "psndcg": psn_num / psn_den if psn_den else 0.0,
    }


# ------------------------------------------------------------------ hand-computed cases


def test_precision_hand() -> None:
    # hits per row in top 3: row0 {2,0} = 2, row1 {1} = 1, row2 0, row3 {5,3} = 2
    assert precision_at_k(PRED, TRUTH, 1) == pytest.approx((1 + 0 + 0 + 1) / 4)  # 0.5
    assert precision_at_k(PRED, TRUTH, 3) == pytest.approx((2 + 1 + 0 + 2) / 12)  # 5/12
    # k = 5 > kmax = 3: ranks 4, 5 are misses but still divide by 5
    assert precision_at_k(PRED, TRUTH, 5) == pytest.approx(5 / 20)


def test_ndcg_hand() -> None:
    # @1: row0 1/1, row1 0, row2 (no labels) 0, row3 1/1 -> 2/4
    assert ndcg_at_k(PRED, TRUTH, 1) == pytest.approx(0.5)
    # @3: row0 (1 + D2) / (1 + D2) = 1, row1 D2 / 1 = 0.63093, row2 0,
    #     row3 (1 + D3) / (1 + D2 + D3) = 1.5 / 2.13093 = 0.70392 -> mean 0.58371
    expected = (1 + D2 + 0 + (1 + D3) / (1 + D2 + D3)) / 4
    assert ndcg_at_k(PRED, TRUTH, 3) == pytest.approx(expected)
    assert expected == pytest.approx(0.58371, abs=1e-5)
    # @5: no hits beyond rank 3 and IDCG only grows for row3 (|y| = 3 < 5 caps it) -> same
    assert ndcg_at_k(PRED, TRUTH, 5) == pytest.approx(expected)


def test_psprecision_hand() -> None:
    # @1: hits 2 (w 3) and 5 (w 6) -> 9; ideal tops: row0 w2=3, row1 w1=2, row3 w5=6 -> 11
    assert psprecision_at_k(PRED, TRUTH, 1, W) == pytest.approx(9 / 11)
    # @3: hits 3+1, 2, 6+4 = 16; ideal 3+1, 2, 6+5+4 = 21
    assert psprecision_at_k(PRED, TRUTH, 3, W) == pytest.approx(16 / 21)
    assert psprecision_at_k(PRED, TRUTH, 5, W) == pytest.approx(16 / 21)


def test_psndcg_hand() -> None:
    # numerator (per row wDCG / unweighted IDCG):
    #   row0 (3 + 1*D2) / (1 + D2) = 2.22629, row1 2*D2 / 1 = 1.26186,
    #   row3 (6 + 4*D3) / (1 + D2 + D3) = 8 / 2.13093 = 3.75423        -> 7.24238
    # denominator (ideal order by w: row0 [2, 0], row1 [1], row3 [5, 4, 3]):
    #   row0 2.22629, row1 2 / 1 = 2, row3 (6 + 5*D2 + 4*D3) / 2.13093 = 5.23463 -> 9.46092
    idcg3 = 1 + D2 + D3
    num = (3 + D2) / (1 + D2) + 2 * D2 + (6 + 4 * D3) / idcg3
    den = (3 + D2) / (1 + D2) + 2 + (6 + 5 * D2 + 4 * D3) / idcg3
    assert psndcg_at_k(PRED, TRUTH, 3, W) == pytest.approx(num / den)
    assert num / den == pytest.approx(0.76550, abs=1e-5)
    # @1: discount 1 everywhere and IDCG@1 = 1 -> same as PSP@1
    assert psndcg_at_k(PRED, TRUTH, 1, W) == pytest.approx(9 / 11)


def test_evaluate_keys_and_values_match_single_metrics() -> None:
    out = evaluate(PRED, TRUTH, ks=(1, 3, 5), inv_prop=W)
    assert list(out) == [f"{m}@{k}" for k in (1, 3, 5) for m in ("p", "ndcg", "psp", "psndcg")]
    for k in (1, 3, 5):
        assert out[f"p@{k}"] == pytest.approx(precision_at_k(PRED, TRUTH, k))
        assert out[f"ndcg@{k}"] == pytest.approx(ndcg_at_k(PRED, TRUTH, k))
        assert out[f"psp@{k}"] == pytest.approx(psprecision_at_k(PRED, TRUTH, k, W))
        assert out[f"psndcg@{k}"] == pytest.approx(psndcg_at_k(PRED, TRUTH, k, W))
    plain = evaluate(PRED, TRUTH, ks=(2,))
    assert set(plain) == {"p@2", "ndcg@2"}
    # @2: hits row0 2, row1 1, row3 1 -> 4/8
    assert plain["p@2"] == pytest.approx(0.5)


def test_evaluate_scores_at_the_papers_cutoffs_by_default() -> None:
    assert DEFAULT_KS == (1, 3, 5)
    assert list(evaluate(PRED, TRUTH)) == [f"{m}@{k}" for k in (1, 3, 5) for m in ("p", "ndcg")]


def test_a_metric_spec_shows_its_name_upper_cased_unless_labelled() -> None:
    spec = MetricSpec("recall", precision_at_k)
    assert (spec.label, spec.order, spec.higher_is_better) == ("RECALL", 100, True)
    assert MetricSpec("ndcg", ndcg_at_k, label="N", order=1).label == "N"
    for bad in ("recall@5", "Recall", ""):  # the name becomes the "<name>@k" of records
        with pytest.raises(ValueError, match="metric name"):
            MetricSpec(bad, precision_at_k)


def test_no_labels_anywhere_gives_zero_not_nan() -> None:
    out = evaluate([[0, 1], [2, -1]], [[], []], ks=(1, 2), inv_prop=np.ones(3) * 2)
    assert out == {k: 0.0 for k in out}
    assert len(out) == 8


def test_rows_without_labels_stay_in_the_mean() -> None:
    # one perfect row + three empty rows -> every plain metric averages 1 with three zeros
    truth = [[0], [], [], []]
    pred = [[0], [1], [2], [-1]]
    out = evaluate(pred, truth, ks=(1,), inv_prop=np.ones(3) * 2)
    assert out["p@1"] == pytest.approx(0.25)
    assert out["ndcg@1"] == pytest.approx(0.25)
    # PS metrics are a ratio of sums: empty rows add 0 to both sides -> 1
    assert out["psp@1"] == pytest.approx(1.0)
    assert out["psndcg@1"] == pytest.approx(1.0)


def test_padding_and_short_predictions() -> None:
    # an all -1 prediction equals no prediction at all; k beyond kmax counts as misses
    truth = [[0, 1]]
    assert precision_at_k([[-1, -1]], truth, 2) == 0.0
    assert precision_at_k([[]], truth, 2) == 0.0
    assert precision_at_k(np.array([[1]]), truth, 3) == pytest.approx(1 / 3)
    # nDCG@3 with one hit at rank 1 and |y| = 2: 1 / (1 + D2)
    assert ndcg_at_k(np.array([[1]]), truth, 3) == pytest.approx(1 / (1 + D2))
    # -1 in the middle: miss at rank 1, hit at rank 2 -> D2 / (1 + D2)
    assert ndcg_at_k([[-1, 0]], truth, 2) == pytest.approx(D2 / (1 + D2))


def test_unseen_training_label_keeps_its_propensity() -> None:
    # train: label 0 seen in 9 of 10 docs, label 1 never seen -> w1 is the largest weight
    train = np.zeros((10, 2), dtype=np.int8)
    train[:9, 0] = 1
    w = inverse_propensity(train)
    assert w[1] > w[0]
    truth = [[0, 1]]
    # hit only the seen label: PSP@1 = w0 / w1 (ideal puts the unseen label first)
    assert psprecision_at_k([[0]], truth, 1, w) == pytest.approx(w[0] / w[1])
    assert psprecision_at_k([[1]], truth, 1, w) == pytest.approx(1.0)
    # PSnDCG@2 for [0, 1]: (w0 + w1*D2) / (w1 + w0*D2), IDCG cancels for a single row
    expected = (w[0] + w[1] * D2) / (w[1] + w[0] * D2)
    assert psndcg_at_k([[0, 1]], truth, 2, w) == pytest.approx(expected)
    assert expected < 1


# ------------------------------------------------------------------ inverse propensity


def test_inverse_propensity_hand() -> None:
    # N = 10 docs; label counts N_l = [10, 3, 1, 0]; A = 0.55, B = 1.5
    # C = (ln 10 - 1) * 2.5^0.55 = 1.302585 * 1.655267 = 2.156121
    # N_l = 10: 1 + C * 11.5^-0.55 = 1 + 2.156121 * 0.260986 = 1.562716
    # N_l = 3:  1 + C * 4.5^-0.55  = 1 + 2.156121 * 0.437256 = 1.942771
    # N_l = 1:  1 + C * 2.5^-0.55  = 1 + (ln 10 - 1) = ln 10 = 2.302585
    # N_l = 0:  1 + C * 1.5^-0.55  = 1 + 2.156121 * 0.800127 = 2.725134 (largest)
    train = np.zeros((10, 4), dtype=np.float32)
    train[:, 0] = 1
    train[:3, 1] = 1
    train[5, 2] = 1
    expected = [1.562716, 1.942771, math.log(10), 2.725134]
    got = inverse_propensity(train)
    assert got.dtype == np.float64 and got.shape == (4,)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(inverse_propensity(sp.csr_matrix(train)), expected, rtol=1e-6)
    # non-binary and explicit-zero entries: N_l counts documents, not the stored values
    weird = sp.csr_matrix(train * 7)
    weird.data[weird.indices == 2] = 0  # explicit zero: label 2 is now in no document
    assert inverse_propensity(weird)[2] == pytest.approx(2.725134, rel=1e-6)
    np.testing.assert_allclose(inverse_propensity(weird)[:2], expected[:2], rtol=1e-6)


def test_inverse_propensity_parameters() -> None:
    # Wikipedia setting A = 0.5, B = 0.4, N = 4, N_l = 1:
    # C = (ln 4 - 1) * 1.4^0.5; 1 + C * 1.4^-0.5 = ln 4 = 1.386294
    train = np.array([[1], [0], [0], [0]])
    assert inverse_propensity(train, a=0.5, b=0.4)[0] == pytest.approx(math.log(4))
    with pytest.raises(ValueError, match="no rows"):
        inverse_propensity(np.zeros((0, 3)))


# ------------------------------------------------------------------ input forms


def test_same_answer_from_list_ndarray_and_sparse_inputs() -> None:
    want = evaluate(PRED, TRUTH, ks=(1, 2, 3, 4), inv_prop=W)
    pred_arr = np.array(PRED, dtype=np.int32)
    dense_truth = dense(TRUTH, 6)
    csr = sp.csr_matrix(dense_truth)
    # non-canonical CSR: duplicate entries, unsorted indices, an explicit zero (not relevant)
    rows = [3, 0, 0, 3, 1, 3, 0, 2]
    cols = [5, 2, 0, 3, 1, 4, 2, 1]
    vals = [1, 1, 1, 1, 1, 1, 1, 0]
    messy = sp.csr_matrix((vals, (rows, cols)), shape=(4, 6))
    messy.has_canonical_format = False
    ragged = [[2, 0, 1], [0, 1], [4], [5, 1, 3]]
    variants = [
        (pred_arr, TRUTH),
        (pred_arr, dense_truth),
        (pred_arr, csr),
        (ragged, csr),
        (pred_arr, sp.csr_array(dense_truth)),
        (pred_arr, sp.coo_matrix(dense_truth)),
        (pred_arr, messy),
        (pred_arr, [[2, 0, 0], [1], [], [5, 4, 3]]),  # duplicates and order in truth lists
        (np.hstack([pred_arr, np.full((4, 3), -1)]), csr),  # wider padded pred
    ]
    for pred, truth in variants:
        got = evaluate(pred, truth, ks=(1, 2, 3, 4), inv_prop=W)
        assert got == pytest.approx(want), (type(pred), type(truth))


def test_truncation_uses_only_top_k() -> None:
    # the hit at rank 3 must not count at k = 2
    assert precision_at_k([[5, 6, 0]], [[0]], 2) == 0.0
    assert precision_at_k([[5, 6, 0]], [[0]], 3) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("pred", "truth", "match"),
    [
        ([[0]], [[0], [1]], "rows"),
        (np.array([0, 1]), [[0], [1]], "2-D"),
        (np.array([[0.5], [1.0]]), [[0], [1]], "integer"),
        ([[-2], [0]], [[0], [1]], ">= 0"),
        (np.array([[7], [0]]), sp.csr_matrix(np.eye(2)), "number of labels"),
        ([[0], [1]], [[0], [-3]], ">= 0"),
        ([[0]], "abc", "unsupported truth"),
        ("x", [[0]], "unsupported pred"),
        ([], [], "zero rows"),
    ],
)
def test_invalid_inputs_raise(pred: object, truth: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        evaluate(pred, truth, ks=(1,))


def test_invalid_k_and_propensity_raise() -> None:
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k(PRED, TRUTH, 0)
    with pytest.raises(ValueError, match="ks must be"):
        evaluate(PRED, TRUTH, ks=())
    with pytest.raises(ValueError, match="columns"):
        evaluate(PRED, sp.csr_matrix(dense(TRUTH, 6)), inv_prop=np.ones(5))
    with pytest.raises(ValueError, match="len\\(inv_prop\\)"):
        evaluate(PRED, TRUTH, inv_prop=np.ones(4))
    with pytest.raises(ValueError, match="1-D"):
        evaluate(PRED, TRUTH, inv_prop=np.ones((6, 1)))


# ------------------------------------------------------------------ properties


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[list[int]], list[list[int]], np.ndarray, int]:
    """Random (pred, truth, inv_prop, kmax) with unique ids per prediction row."""
    n_labels = draw(st.integers(1, 12))
    n_rows = draw(st.integers(1, 8))
    labels = st.integers(0, n_labels - 1)
    truth = draw(
        st.lists(st.lists(labels, max_size=6, unique=True), min_size=n_rows, max_size=n_rows)
    )
    pred = [
        draw(st.lists(labels, max_size=6, unique=True)) + [-1] * draw(st.integers(0, 2))
        for _ in range(n_rows)
    ]
    w = np.array(draw(st.lists(st.floats(1.0, 10.0), min_size=n_labels, max_size=n_labels)))
    return pred, truth, w, draw(st.integers(1, 7))


PROPS = settings(max_examples=75, deadline=None)


@PROPS
@given(problems())
def test_matches_per_row_reference(problem: tuple) -> None:
    pred, truth, w, kmax = problem
    ks = range(1, kmax + 1)
    got = evaluate(pred, truth, ks=ks, inv_prop=w)
    for k in ks:
        want = ref_metrics(pred, truth, k, w)
        for name, value in want.items():
            assert got[f"{name}@{k}"] == pytest.approx(value, abs=1e-12), (name, k)
            assert -1e-12 <= got[f"{name}@{k}"] <= 1 + 1e-12


@PROPS
@given(problems())
def test_perfect_and_ideal_rankings(problem: tuple) -> None:
    _, truth, w, k = problem
    # ideal PS ranking: each row's labels by decreasing inverse propensity
    ideal = [sorted(y, key=lambda label: -w[label]) for y in truth]
    out = evaluate(ideal, truth, ks=(k,), inv_prop=w)
    sizes = np.array([len(y) for y in truth])
    assert out[f"p@{k}"] == pytest.approx(np.mean(np.minimum(k, sizes) / k))
    assert out[f"ndcg@{k}"] == pytest.approx(np.mean(sizes > 0))  # 1 on rows with labels
    if sizes.any():
        assert out[f"psp@{k}"] == pytest.approx(1.0)
        assert out[f"psndcg@{k}"] == pytest.approx(1.0)


@PROPS
@given(problems(), st.randoms(use_true_random=False))
def test_row_permutation_invariance(problem: tuple, rnd) -> None:
    pred, truth, w, k = problem
    order = list(range(len(truth)))
    rnd.shuffle(order)
    a = evaluate(pred, truth, ks=range(1, k + 1), inv_prop=w)
    b = evaluate(
        [pred[i] for i in order], [truth[i] for i in order], ks=range(1, k + 1), inv_prop=w
    )
    assert b == pytest.approx(a, abs=1e-12)


def test_medium_random_against_reference() -> None:
    # larger n than hypothesis draws: CSR truth, power-law-ish labels, ndarray pred
    rng = np.random.default_rng(7)
    n, n_labels, k = 400, 60, 5
    truth = [
        list(
            rng.choice(
                n_labels,
                size=rng.integers(0, 8),
                replace=False,
                p=np.arange(1, n_labels + 1)[::-1] / 1830,
            )
        )
        for _ in range(n)
    ]
    pred = np.array([rng.permutation(n_labels)[:k] for _ in range(n)])
    pred[rng.random((n, k)) < 0.1] = -1
    w = inverse_propensity(sp.csr_matrix(dense(truth, n_labels)))
    got = evaluate(pred, sp.csr_matrix(dense(truth, n_labels)), ks=(1, 3, 5), inv_prop=w)
    for kk in (1, 3, 5):
        want = ref_metrics(pred.tolist(), truth, kk, w)
        for name, value in want.items():
            assert got[f"{name}@{kk}"] == pytest.approx(value, abs=1e-12)
    assert got["p@1"] > 0  # the fixture is not degenerate
