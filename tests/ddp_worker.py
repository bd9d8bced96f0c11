"""One rank of the data-parallel tests, run by torchrun: `torchrun ... ddp_worker.py OUT`.

Each rank trains AttentionXML on synthetic-tiny in the same process group (gloo, CPU) and
pickles what the tests compare to `OUT/rank<r>.pkl`: one step's gradients, a flat run's
history and weights, an interrupted-then-resumed run, and a label-tree run through the CLI
(its training candidates, weights, predictions and exit code). The test module imports the
settings below, so the single-process reference trains exactly the same way.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

PER_PROCESS = 8  # documents per process and step; the reference uses 2x in one process
MODEL = {"embedding_dim": 16, "hidden_size": 8, "fc_sizes": [16], "embedding_dropout": 0.0}
FLAT = {
    **MODEL,
    "embedding_init": "random",
    "trees": 1,
    "encoder_dropout": 0.0,
    "lr": 1e-2,
    "eval_every": 1,  # history then holds every step's loss
    "patience": 100,
    "swa": False,
    "epochs": 1,
    "max_steps": 6,
    "valid_size": 30,
    "progress": False,
    "device": "cpu",
}
TREE = {
    **MODEL,
    "embedding_init": "random",
    "trees": 1,
    "tree_height": 1,
    "tree_k": 4,
    "candidates": 4,
    "epochs": 1,
    "max_steps": 3,
    "swa": False,
    "batch_size": PER_PROCESS,
}
INTERRUPT_AT = 3


def tiny() -> Any:
    """The synthetic-tiny preset (270 train, 30 valid, 100 test documents, 48 labels)."""
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


def weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}


def first_step(
    dataset: Any, batch_size: int, workdir: Path, sparse: bool = False
) -> tuple[float, dict[str, np.ndarray], int]:
    """Loss, (unclipped, dense) gradients and documents this process ran of one step from seed-0
    weights on the first batch; `sparse`: a sparse-gradient embedding (SparseAdam)."""
    from xmcbench_attentionxml.model import AttentionXMLNet, ModelConfig

    from xmcbench.deep import distributed
    from xmcbench.deep.batching import FlatTrainingData
    from xmcbench.deep.engine import TrainConfig, Trainer

    config = ModelConfig(
        vocab_size=len(dataset.train.vocab),
        n_labels=dataset.n_labels,
        **{**MODEL, "fc_sizes": tuple(MODEL["fc_sizes"])},
        encoder_dropout=0.0,
        sparse_embedding=sparse,
    )
    torch.manual_seed(0)
    model = AttentionXMLNet(config)
    seen: list[int] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(len(args[0])))
    trainer = Trainer(
        model, TrainConfig(epochs=1, clip_factor=0.0, progress=False), torch.device("cpu"),
        workdir, "first-step",
    )  # fmt: skip
    data = FlatTrainingData(dataset.train, batch_size * distributed.world_size(), 500, seed=0)
    loss = trainer.train_step(next(iter(data.batches(0))))
    grads = {
        name: (p.grad.to_dense() if p.grad.is_sparse else p.grad).detach().numpy().copy()
        for name, p in model.named_parameters()
    }
    return loss, grads, sum(seen)


def fit_flat(dataset: Any, batch_size: int, workdir: Path, stop_at: int | None = None) -> Any:
    """A flat AttentionXML trained (or resumed) in `workdir`; stops by Ctrl-C at `stop_at`."""
    from xmcbench_attentionxml.method import AttentionXML

    method = AttentionXML(**FLAT, batch_size=batch_size, seed=0)

    def interrupt(step: int) -> None:
        if step == stop_at:
            raise KeyboardInterrupt

    method.step_callback = interrupt
    method.fit(dataset.train, dataset.valid, workdir)
    return method


def run_tree(out: Path, dataset: Any) -> dict[str, Any]:
    """`xmcbench run attentionxml` with a label tree, watching the candidates of level 2."""
    from xmcbench_attentionxml.levels import LevelTrainer
    from xmcbench_attentionxml.tree_method import tree_scores

    from xmcbench import cli

    seen: dict[str, Any] = {}
    parents_of, train_tree = LevelTrainer._training_parents, LevelTrainer.train

    def watch_parents(self: LevelTrainer, *args: Any) -> np.ndarray:
        seen["parents"] = parents_of(self, *args)
        return seen["parents"]

    def watch_train(self: LevelTrainer, *args: Any, **kwargs: Any) -> Any:
        seen["model"] = train_tree(self, *args, **kwargs)
        return seen["model"]

    LevelTrainer._training_parents, LevelTrainer.train = watch_parents, watch_train
    try:
        sets = [item for key, value in TREE.items() for item in ("--set", f"{key}={value}")]
        argv = ["run", "attentionxml", "--dataset", "synthetic-tiny", "--device", "cpu"]
        code = cli.main([*argv, "--quiet", "--results", str(out / "results"), *sets])
    finally:
        LevelTrainer._training_parents, LevelTrainer.train = parents_of, train_tree
    model = seen["model"]
    config = _predict_config()
    labels, _ = tree_scores(model, dataset.test, 5, config, TREE["candidates"])
    return {
        "exit": code,
        "parents": seen["parents"],
        "nets": [weights(net) for net in model.nets],
        "predictions": labels,
    }


def _predict_config() -> Any:
    from xmcbench.deep.predict import PredictConfig

    return PredictConfig(max_len=500, batch_size=128, device=torch.device("cpu"))


def main(out: Path) -> None:
    from xmcbench.deep import distributed

    torch.set_num_threads(1)
    distributed.init(torch.device("cpu"))
    dataset = tiny()
    result: dict[str, Any] = {"world_size": distributed.world_size()}
    result["step"] = first_step(dataset, PER_PROCESS, out / "step")
    result["sparse_step"] = first_step(dataset, PER_PROCESS, out / "step", sparse=True)
    flat = fit_flat(dataset, PER_PROCESS, out / "flat")
    result["flat"] = {"history": flat.history_, "weights": weights(flat.model_)}
    try:
        fit_flat(dataset, PER_PROCESS, out / "resumed", stop_at=INTERRUPT_AT)
    except KeyboardInterrupt:
        pass  # every rank stops at the same step; rank 0 saved the checkpoint
    else:
        raise AssertionError("the run meant to be interrupted ran to its end")
    resumed = fit_flat(dataset, PER_PROCESS, out / "resumed")
    result["resumed"] = {"history": resumed.history_, "weights": weights(resumed.model_)}
    result["tree"] = run_tree(out, dataset)
    with (out / f"rank{distributed.rank()}.pkl").open("wb") as handle:
        pickle.dump(result, handle)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
