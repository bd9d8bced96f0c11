"""How a label tree's levels combine into a label's score: the paper's product, or tempered.

A label's score is its own probability times its ancestors' path probability to the power a
(a = 1: paper eq. 1). A tree trained on a time budget has less sure upper levels than its last
one, so `choose_exponent` picks a on the validation documents once the trees are trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xmcbench.deep.predict import PredictConfig
from xmcbench.metrics import ndcg_at_k
from xmcbench.types import Split

from .beam import beam_search
from .ensemble import average_topk
from .levels import TreeModel

PATH_EXPONENTS = (0.25, 0.5, 0.75, 1.0)  # the choices; 1 (the paper's) wins ties
CHOICE_K = 5  # chosen by nDCG@5, the metric early stopping watches (levels.py)


def choose_exponent(
    models: Sequence[TreeModel], valid: Split, beam: int, config: PredictConfig
) -> tuple[float, dict[float, float]]:
    """(exponent, validation nDCG@5 of the ensemble for each of PATH_EXPONENTS).

    Scored as `tree_method.predict_trees` predicts (each tree's best max(5, beam) labels, then
    their mean over the trees). The beam above the last level is searched once per tree; only
    the last level is scored again for each exponent. A flat ensemble (no ancestors) keeps 1.
    """
    if not models or models[0].tree.height == 0 or len(valid) == 0:
        return 1.0, {}
    above = []  # per tree: (n, beam) nodes and path probabilities of the level above the last
    for model in models:
        above.append(beam_search(model.nets[:-1], model.tree, valid, beam, beam, config))
    scores: dict[float, float] = {}
    for exponent in PATH_EXPONENTS:
        labels, values = [], []
        for model, (parents, path) in zip(models, above, strict=True):
            nodes, value = beam_search(
                model.nets[-1:], model.tree, valid, beam, max(CHOICE_K, beam), config,
                first_level=model.tree.height + 1, parents=parents,
                parent_scores=path ** np.float32(exponent),
            )  # fmt: skip
            labels.append(model.tree.labels_of_leaves(nodes))
            values.append(value)
        top = average_topk(labels, values, CHOICE_K)
        scores[exponent] = ndcg_at_k(top.labels, valid.labels, CHOICE_K)
    best = max(scores.values())
    chosen = min((e for e, s in scores.items() if s == best), key=lambda e: abs(1.0 - e))
    return chosen, scores
