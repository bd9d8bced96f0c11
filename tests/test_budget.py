"""Training to a time budget and the `auto` preset: parsing, stopping, SWA, levels, choices."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from xmcbench_attentionxml import auto  # noqa: E402
from xmcbench_attentionxml.method import AttentionXML  # noqa: E402
from xmcbench_attentionxml.params import Hyperparams  # noqa: E402

from xmcbench.deep import budget  # noqa: E402
from xmcbench.errors import ParamError  # noqa: E402

SMALL = {
    "embedding_dim": 16, "hidden_size": 8, "fc_sizes": [16], "embedding_init": "random",
    "batch_size": 16, "eval_every": 5, "device": "cpu",
}  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    torch.set_num_threads(1)
    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


@pytest.fixture
def ticking(monkeypatch) -> None:
    """The engine's clock advances one second each time it is read: no real waiting."""
    ticks = itertools.count()
    monkeypatch.setattr(budget, "now", lambda: float(next(ticks)))


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("30m", 1800.0), ("1h30m", 5400.0), ("90s", 90.0), ("2h", 7200.0), (45, 45.0),
     ("1.5h", 5400.0), (" 10 min ", 600.0), ("none", None), ("off", None), (None, None)],
)  # fmt: skip
def test_durations_parse_and_print_back(given, seconds) -> None:
    assert Hyperparams(time_budget=given).time_budget == seconds
    assert budget.parse_duration(budget.format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["3x", "", "m", "-5", 0, -1, True, [30], "1h-5m"])
def test_a_bad_budget_is_one_line_naming_the_parameter(bad) -> None:
    with pytest.raises(ParamError, match=r"^time_budget must be a duration such as 30m") as err:
        AttentionXML(time_budget=bad)
    assert "\n" not in str(err.value)


def test_swa_waits_for_a_plateau_or_most_of_the_budget() -> None:
    wait = {"step": 10, "warmup_step": 100, "validated": True}
    assert budget.swa_trigger(**wait, bad_evals=5, elapsed_s=0, budget_s=None) is None
    assert budget.swa_trigger(**wait, bad_evals=2, elapsed_s=10, budget_s=100) is None
    flat = budget.swa_trigger(**wait, bad_evals=3, elapsed_s=10, budget_s=100)
    assert flat == "validation flat for 3 checks"
    late = budget.swa_trigger(**wait, bad_evals=0, elapsed_s=60, budget_s=100)
    assert late == "60% of the time budget used"
    done = {**wait, "step": 100}
    assert budget.swa_trigger(**done, bad_evals=0, elapsed_s=0, budget_s=None) == "warm-up done"


def test_levels_share_the_budget_by_cost_and_pass_on_unused_time() -> None:
    assert budget.split_budget(100.0, [1.0, 1.0, 2.0]) == [25.0, 25.0, 50.0]
    allowance = budget.Allowance(100.0, [1.0, 1.0, 2.0])
    assert allowance.next_budget() == 25.0
    allowance.spend(5.0)  # stopped early: the 20 s left go to the later levels
    assert allowance.next_budget() == pytest.approx(95.0 / 3)
    assert budget.Allowance(None, [1.0]).next_budget() is None


def test_auto_picks_flat_or_tree_by_labels_and_says_why() -> None:
    few = auto.choose(auto.DataShape(40_000, 3_000, 61.0), "cpu")
    assert few.values["tree_height"] == 0 and "flat (labels <= 4,096)" in few.reason
    assert few.values["hidden_size"] == 128 and few.values["lr"] == 3e-3  # affordable when flat
    assert few.values["trees"] == 3 and "3 models" in few.reason
    assert few.values["max_len"] == 64 and few.values["time_budget"] == "30m"
    many = auto.choose(auto.DataShape(40_000, 29_000, 61.0), "cpu", cpus=2)
    assert many.values["tree_height"] == 1 and many.values["tree_k"] == 32
    assert many.values["trees"] == 2  # budget-bound: as many trees as train at once
    assert many.values["level_init"] == "parent"
    # budget-bound trees train with lighter dropout than flat models, which overfit first
    assert (many.values["embedding_dropout"], many.values["encoder_dropout"]) == (0.1, 0.3)
    assert (few.values["embedding_dropout"], few.values["encoder_dropout"]) == (0.2, 0.5)
    assert "dropout 0.1/0.3" in many.reason and "dropout" not in few.reason
    # a budget-bound tree's levels combine by an exponent chosen on validation; GPU: the paper's
    assert many.values["path_exponent"] == 0 and "path exponent chosen" in many.reason
    assert "path_exponent" not in few.values
    assert "label tree H=1 K=32 C=16" in many.reason and "2 trees at once (2 CPUs)" in many.reason
    assert auto.choose(auto.DataShape(40_000, 29_000, 61.0), "cpu", cpus=1).values["trees"] == 1
    assert auto.choose(auto.DataShape(40_000, 29_000, 61.0), "cpu", cpus=16).values["trees"] == 3
    assert auto.choose(auto.DataShape(40_000, 29_000, 900.0), "cuda").values["tree_height"] == 0
    amazon = auto.choose(auto.DataShape(490_000, 670_000, 900.0), "cuda")
    assert amazon.values["tree_height"] == 3 and amazon.values["candidates"] == 160
    assert amazon.values["max_len"] == 500 and amazon.values["time_budget"] == "none"
    assert amazon.values["batch_size"] == 200  # the paper's large-data setting


def test_budget_stops_training_then_validates_averages_and_evaluates(
    dataset, ticking, tmp_path: Path, capsys
) -> None:
    method = AttentionXML(time_budget="12s", trees=1, **SMALL)  # auto: epochs only a cap (30)
    before = method.get_params()
    assert before["preset"] == "auto" and "max_len" not in before and "tree_height" not in before
    method.fit(dataset.train, dataset.valid, tmp_path / "work")
    out = capsys.readouterr().err  # the step log; stdout is for results
    summary = method.training_summary_
    assert summary["stopped_by"] == "time_budget" and summary["time_budget_s"] == 12.0
    stop = int(re.search(r"time budget used up at step (\d+) ", out)[1])
    assert re.search(r"SWA starts at step \d+ \(epoch 1\): 60% of the time budget used", out)
    steps_per_epoch = -(-len(dataset.train) // 16)
    assert method.history_[-1]["step"] < steps_per_epoch  # far before the 30-epoch cap
    assert method.history_[-1]["step"] == stop  # the stop got its own last validation
    top = method.predict(dataset.test, 5)
    assert top.labels.shape == (len(dataset.test), 5)
    after = method.get_params()
    assert after["max_len"] > 0 and after["tree_height"] == 0 and after["time_budget"] == "12s"
    reason = summary["auto_reason"]
    assert reason.startswith("cpu: 270 train docs, 48 labels; flat") and "time budget 30m" in reason
    method.save(tmp_path / "model")
    saved = json.loads((tmp_path / "model" / "params.json").read_text())
    assert saved["auto_reason"] == reason
    loaded = AttentionXML.load(tmp_path / "model")
    assert loaded.get_params() == after and loaded.auto_.reason == reason


def test_tree_levels_split_the_budget(dataset, ticking, tmp_path: Path) -> None:
    method = AttentionXML(
        "demo", time_budget=40, tree_height=1, tree_k=4, candidates=4, epochs=30, swa=False,
        progress=False, **SMALL,
    )  # fmt: skip
    method.fit(dataset.train, dataset.valid, tmp_path / "work")
    levels = method.training_summary_["levels"]
    assert [level["level"] for level in levels] == [1, 2]
    assert all(level["stopped_by"] == "time_budget" for level in levels)
    first, second = levels[0]["budget_s"], levels[1]["budget_s"]
    assert 0 < first < 40 and 0 < second <= 40 - levels[0]["seconds"] + 1e-9
    assert method.training_summary_["stopped_by"] == "time_budget"


def test_the_auto_reason_names_what_the_user_set_over_the_rules() -> None:
    chosen = auto.choose(auto.DataShape(40_000, 29_000, 61.0), "cpu")
    assert auto.with_overrides(chosen, {"candidates": 16}) == chosen  # same as the rules'
    over = auto.with_overrides(chosen, {"candidates": 32, "seed": 1})
    assert over.reason.endswith("; set by you: candidates=32") and over.values == chosen.values


def test_the_loop_leaves_time_for_its_last_validation_and_set_up_counts(
    dataset, tmp_path: Path, monkeypatch
) -> None:
    """A step costs 1 s, a validation 5 s, building the embeddings 7 s (a controlled clock)."""
    from xmcbench.deep import engine
    from xmcbench.deep import estimator as method_module

    clock = {"now": 0.0}
    monkeypatch.setattr(budget, "now", lambda: clock["now"])
    step, evaluator = engine.Trainer.train_step, method_module.flat_evaluator

    def timed_step(self, batch):
        clock["now"] += 1.0
        return step(self, batch)

    def timed_evaluator(*args, **kwargs):
        evaluate = evaluator(*args, **kwargs)

        def run(model):
            clock["now"] += 5.0
            return evaluate(model)

        return run

    def timed_embeddings(*args, **kwargs):
        clock["now"] += 7.0
        return None

    monkeypatch.setattr(engine.Trainer, "train_step", timed_step)
    monkeypatch.setattr(method_module, "flat_evaluator", timed_evaluator)
    monkeypatch.setattr(method_module, "initial_embeddings", timed_embeddings)
    method = AttentionXML(time_budget=40, trees=1, swa=False, progress=False, **SMALL)
    method.fit(dataset.train, dataset.valid, tmp_path / "work")
    assert method.training_summary_["stopped_by"] == "time_budget"
    assert 40 - 7 - 5 <= clock["now"] <= 40  # set-up, steps, validations: all inside
    assert method.history_[-1]["step"] < 40 - 7  # fewer steps than a loop given all 40 s
