"""PS metrics fit propensities on the whole training file, as pyxclib does on the file it gets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from xmcbench.data.preprocess import PrepareOptions, build, prepare
from xmcbench.data.readers import RawDataset, RawSplit
from xmcbench.metrics import inverse_propensity, psprecision_at_k
from xmcbench.registry import MetricSpec
from xmcbench.runner import evaluate_topk
from xmcbench.types import TopK

QUIET = {"progress": False}
PSP = MetricSpec("psp", psprecision_at_k, needs_propensity=True)


def split(rows: list[tuple[str, str]]) -> RawSplit:
    return RawSplit(texts=[t for t, _ in rows], labels=[lab.split() for _, lab in rows])


def raw(valid: list[tuple[str, str]] | None = None) -> RawDataset:
    """40 training documents: one shared label, and a label of its own for each document."""
    train = [(f"word{i} shared text", f"common own{i}") for i in range(40)]
    test = [(f"word{i} text", f"common own{i}") for i in range(10)]
    return RawDataset(split(train), split(test), valid and split(valid))


def test_carved_validation_is_part_of_the_propensity_fit() -> None:
    ds = build(raw(), "toy", PrepareOptions(valid_size=8), **QUIET)
    assert ds.info["valid_source"] == "carved" and len(ds.valid) == 8
    stacked = sp.vstack([ds.train.labels, ds.valid.labels], format="csr")
    assert (ds.propensity_labels != stacked).nnz == 0 and ds.propensity_labels.shape == (40, 41)
    full = inverse_propensity(stacked)
    np.testing.assert_allclose(inverse_propensity(ds.propensity_labels), full)
    # the 8 labels seen only in carved documents count once, not zero times
    carved = np.flatnonzero(np.bincount(ds.train.labels.indices, minlength=ds.n_labels) == 0)
    assert len(carved) == 8
    train_only = inverse_propensity(ds.train.labels)
    assert train_only[carved] == pytest.approx(train_only.max())
    assert full[carved] == pytest.approx(full[ds.train.labels[0].indices[-1]])  # one doc each

    # a run's scores use the full fit: predict the shared label for every test document
    pred = np.full((len(ds.test), 1), ds.train.label_names.index("common"), np.int32)  # (n, 1)
    topk = TopK(pred, np.ones(pred.shape, np.float32))
    got = evaluate_topk(topk, ds, [PSP], ks=(1,))["psp@1"]
    assert got == pytest.approx(psprecision_at_k(pred, ds.test.labels, 1, full))
    assert got != pytest.approx(psprecision_at_k(pred, ds.test.labels, 1, train_only))


def test_cached_dataset_keeps_the_full_fit(tmp_path: Path) -> None:
    built = build(raw(), "toy", PrepareOptions(valid_size=8), **QUIET)
    prepare(raw(), "toy", PrepareOptions(valid_size=8), cache_root=tmp_path, **QUIET)
    cached = prepare(raw(), "toy", PrepareOptions(valid_size=8), cache_root=tmp_path, **QUIET)
    assert cached.info["from_cache"] is True
    np.testing.assert_allclose(
        inverse_propensity(cached.propensity_labels), inverse_propensity(built.propensity_labels)
    )


@pytest.mark.parametrize("valid_size", [0, None])
def test_without_carved_validation_only_train_counts(valid_size: int | None) -> None:
    # valid_size 0: nothing carved; None with a validation file: that file is not training data
    given = [("extra doc", "own0 rare")] if valid_size is None else None
    ds = build(raw(given), "toy", PrepareOptions(valid_size=valid_size), **QUIET)
    assert ds.info["valid_source"] == ("files" if given else "none")
    assert ds.propensity_labels is ds.train.labels
