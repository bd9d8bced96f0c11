"""AttentionXML's hyperparameter sections: the label tree's settings as one typed part."""

from __future__ import annotations

import dataclasses

import pytest
from xmcbench_attentionxml.method import AttentionXML
from xmcbench_attentionxml.params import Hyperparams, TreeParams

from xmcbench.errors import ParamError

TREE_FIELDS = {
    "tree_height", "tree_k", "tree_m", "candidates", "level_candidates", "trees", "tree_id",
    "parallel_trees", "level_epochs", "level_swa_warmup", "level_init", "path_exponent",
}  # fmt: skip


def test_the_tree_section_holds_every_tree_setting_as_resolved() -> None:
    method = AttentionXML(
        "demo", device="cpu", tree_height=2, tree_k=16, candidates=7, trees=3, tree_id=1,
        level_epochs=[3, 2], level_init="parent",
    )  # fmt: skip
    tree = method.hyperparams().tree
    assert isinstance(tree, TreeParams)
    assert {f.name for f in dataclasses.fields(tree)} == TREE_FIELDS
    assert (tree.tree_height, tree.tree_k, tree.candidates) == (2, 16, 7)
    assert tree.level_epochs == (3, 2) and tree.level_init == "parent"
    assert tree.uses_tree and tree.ids() == [1]
    assert method.get_params()["tree_k"] == 16  # still flat where users read it


def test_level_settings_come_from_the_tree_section() -> None:
    tree = Hyperparams(tree_height=3, level_epochs=(5, 4), trees=2).tree
    assert [tree.epochs_of_level(level, 30) for level in (1, 2, 3, 4)] == [5, 4, 4, 4]
    assert Hyperparams().tree.epochs_of_level(2, 30) == 30  # no level_epochs: the epochs
    assert Hyperparams(level_swa_warmup=(6, 2)).tree.swa_warmup_of_level(3, 10) == 2
    assert tree.ids() == [0, 1] and not Hyperparams().tree.uses_tree


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tree_k": 12}, "tree_k must be a power of two (2, 4, 8, ...), got 12"),
        ({"trees": 2, "tree_id": 2}, "tree_id must be in [0, 2) for trees=2, got 2"),
    ],
)
def test_tree_rules_are_one_line_errors_naming_the_parameter(values: dict, message: str) -> None:
    with pytest.raises(ParamError) as caught:
        AttentionXML("demo", device="cpu", **values)
    assert str(caught.value) == message


def test_methods_json_names_each_parameter_section() -> None:
    params = {p["name"]: p for p in AttentionXML.describe()["params"]}
    assert params["tree_k"]["section"] == params["level_init"]["section"] == "tree"
    assert params["hidden_size"]["section"] == params["optimizer"]["section"] == "model"
    assert params["lr"]["section"] == params["time_budget"]["section"] == "training"
    assert params["embedding_init"]["section"] == params["ppmi_window"]["section"] == "embedding"
    assert params["max_len"]["section"] == params["batch_size"]["section"] == "data"
    assert params["predict_batch_size"]["section"] == "prediction"
    assert all(p["section"] for p in params.values())  # every parameter is in a section
    assert {name for name, p in params.items() if p["section"] == "tree"} == TREE_FIELDS
