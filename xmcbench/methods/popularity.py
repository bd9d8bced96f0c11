"""The floor every table shows: predict the most frequent training labels for every document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import naming_path
from ..types import Split, TopK


class Popularity:
    """Ranks labels by training frequency; the same ranking for every document."""

    def __init__(self, *, seed: int = 0, device: str = "cpu") -> None:
        self.seed = seed  # accepted for the contract; the method is deterministic
        self.device = device
        self.device_ = "cpu"  # what it runs on whatever was asked: numpy, no GPU
        self.frequency_: np.ndarray | None = None  # (L,) fraction of training docs per label

    def get_params(self) -> dict[str, Any]:
        return {}

    def fit(self, train: Split, valid: Split | None, workdir: Path | None = None) -> None:
        counts = np.asarray((train.labels != 0).sum(axis=0)).ravel()  # (L,)
        self.frequency_ = (counts / max(len(train), 1)).astype(np.float32)

    def predict(self, test: Split, k: int) -> TopK:
        if self.frequency_ is None:
            raise RuntimeError("Popularity.predict called before fit")
        best = TopK.from_scores(self.frequency_[None, :], k)  # (1, k)
        n = len(test)
        return TopK(
            labels=np.repeat(best.labels, n, axis=0),  # (n, k)
            scores=np.repeat(best.scores, n, axis=0),
        )

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with naming_path(path / "frequency.npy"):
            np.save(path / "frequency.npy", self.frequency_)
        with naming_path(path / "params.json"):
            (path / "params.json").write_text(json.dumps({"seed": self.seed}))

    @classmethod
    def load(cls, path: Path) -> Popularity:
        from ..saved_run import read_saved_array, read_saved_params

        params = read_saved_params(path / "params.json", cls)
        method = cls(seed=params.get("seed", 0))
        method.frequency_ = read_saved_array(path / "frequency.npy")
        return method
