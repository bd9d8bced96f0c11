"""The deep toolkit (xmcbench.deep): a new deep method is one small module on `DeepEstimator`.

`BagOfEmbeddings` below is such a module (mean of word embeddings, one output per label): it
only declares its hyperparameters and presets and builds its network; registered through the
plugin layer, `xmcbench run` trains, evaluates, records and saves it like any method.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from xmcbench.capabilities import can_merge, has_attention  # noqa: E402
from xmcbench.deep.estimator import DeepEstimator  # noqa: E402
from xmcbench.deep.layers import make_embedding  # noqa: E402
from xmcbench.deep.params import TrainingParams  # noqa: E402
from xmcbench.errors import XMCBenchError  # noqa: E402
from xmcbench.hookspecs import hookimpl  # noqa: E402
from xmcbench.paramspec import Param, integer  # noqa: E402
from xmcbench.paths import from_home  # noqa: E402
from xmcbench.plugins import load_plugins  # noqa: E402
from xmcbench.runner import RunRequest, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the whole new method
@dataclass(frozen=True)
class BagParams(TrainingParams):
    """The toolkit's fields plus the network's own."""

    hidden_size: int = 32

    specs: ClassVar[dict[str, Param]] = {**TrainingParams.specs, "hidden_size": integer(1)}


@dataclass(frozen=True)
class BagConfig:
    vocab_size: int
    n_labels: int
    embedding_dim: int
    hidden_size: int
    freeze_embedding: bool = False
    sparse_embedding: bool = False


class BagNet(nn.Module):
    """Mean of the document's word embeddings, a hidden layer, one logit per label."""

    def __init__(self, config: BagConfig, embedding: np.ndarray | None = None) -> None:
        super().__init__()
        self.config = config
        self.embedding = make_embedding(config, embedding)
        self.hidden = nn.Sequential(nn.Linear(config.embedding_dim, config.hidden_size), nn.ReLU())
        self.output = nn.Linear(config.hidden_size, config.n_labels)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mean = self.embedding(tokens).sum(1) / lengths.clamp(min=1)[:, None].to(tokens.device)
        return self.output(self.hidden(mean))


class BagOfEmbeddings(DeepEstimator):
    name = "bag-of-embeddings"
    label = "bag of embeddings"
    params_class = BagParams
    presets: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"embedding_dim": 16, "epochs": 3}}
    default_preset = "tiny"
    network_class = BagNet
    config_class = BagConfig

    @classmethod
    def network_config(cls, hp: BagParams, vocab_size: int, n_labels: int) -> BagConfig:
        return BagConfig(vocab_size, n_labels, hp.embedding_dim, hp.hidden_size)


# ---------------------------------------------------------------- tests
TINY = {"embedding_init": "random", "batch_size": 16, "lr": 1e-2, "eval_every": 5,
        "valid_size": 20, "swa": False}  # fmt: skip


def test_a_new_deep_method_is_one_module_run_through_the_harness(tmp_path: Path) -> None:
    plugin = types.ModuleType("bag_plugin")

    def register_methods(register: Any) -> None:
        register("bag-of-embeddings", f"{__name__}:BagOfEmbeddings", tags=("deep",))

    plugin.register_methods = hookimpl(register_methods)  # type: ignore[attr-defined]
    builtin = [ep for ep in entry_points(group="xmcbench") if ep.name == "builtin"]
    plugins = load_plugins(builtin, modules=[("bag", plugin)])
    assert plugins.info["bag"].error is None
    request = RunRequest("bag-of-embeddings", "synthetic-tiny", TINY, seed=0, device="cpu",
                         results_dir=tmp_path / "results", progress=False)  # fmt: skip
    record_path = run(request, plugins, log=lambda *_: None)
    assert record_path is not None
    record = json.loads(record_path.read_text())
    assert record["method"] == "bag-of-embeddings"
    assert record["params"]["preset"] == "tiny" and record["params"]["embedding_dim"] == 16
    assert record["params"]["epochs"] == 3 and record["params"]["hidden_size"] == 32
    assert 0.0 <= record["metrics"]["p@1"] <= 1.0

    model_dir = from_home(record["model_dir"])  # relative to XMCBENCH_HOME
    saved = json.loads((model_dir / "params.json").read_text())
    assert saved["model_config"]["hidden_size"] == 32
    loaded = BagOfEmbeddings.load(model_dir)
    assert isinstance(loaded.model_, BagNet) and loaded.get_params()["lr"] == 1e-2


def test_capabilities_are_declared_by_a_method_not_inherited_from_the_base() -> None:
    from xmcbench_attentionxml.method import AttentionXML
    from xmcbench_baselines.bilstm_maxpool import BiLSTMMaxPool
    from xmcbench_baselines.xmlcnn import XMLCNN

    for cls in (BagOfEmbeddings, XMLCNN, BiLSTMMaxPool):
        assert issubclass(cls, DeepEstimator)
        assert not has_attention(cls(device="cpu")) and not can_merge(cls)
    assert issubclass(AttentionXML, DeepEstimator)
    assert has_attention(AttentionXML(device="cpu")) and can_merge(AttentionXML)


def test_a_hyperparameter_the_dataclass_lacks_fails_loudly() -> None:
    class Misspelled(BagOfEmbeddings):
        def __init__(self, hiden_size: int | None = None, **kwargs: Any) -> None:
            self._setup(None, 0, "cpu", False, {"hiden_size": hiden_size})

    with pytest.raises(TypeError, match="hiden_size"):
        Misspelled(hiden_size=4)


def test_a_saved_network_shape_with_a_renamed_field_is_one_error(tmp_path: Path, dataset) -> None:
    method = BagOfEmbeddings(device="cpu", progress=False, epochs=1, **TINY)
    method.fit(dataset.train, dataset.valid, tmp_path / "work")
    method.save(tmp_path / "model")
    params_file = tmp_path / "model" / "params.json"
    saved = json.loads(params_file.read_text())
    saved["model_config"]["hidden_units"] = saved["model_config"].pop("hidden_size")
    params_file.write_text(json.dumps(saved))
    with pytest.raises(XMCBenchError, match=r"model_config does not fit.*hidden_units"):
        BagOfEmbeddings.load(tmp_path / "model")


@pytest.fixture(scope="module")
def dataset():
    from xmcbench.data.resolve import load_dataset
    from xmcbench.plugins import get_plugins

    return load_dataset("synthetic-tiny", get_plugins().datasets, progress=False)


def test_the_baselines_plugin_imports_nothing_from_attentionxml() -> None:
    sources = sorted((ROOT / "plugins" / "baselines").rglob("*.py"))
    assert sources and not [p for p in sources if "xmcbench_attentionxml" in p.read_text()]
    code = (
        "import sys, xmcbench_baselines.xmlcnn, xmcbench_baselines.bilstm_maxpool; "
        "print(sorted(m for m in sys.modules if m.startswith('xmcbench_attentionxml')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_the_deep_methods_import_the_toolkit() -> None:
    imports = re.compile(r"^\s*(from\s+(xmcbench\.deep|\.+deep)\b|import\s+xmcbench\.deep)", re.M)
    core = [p for p in (ROOT / "xmcbench").rglob("*.py") if "deep" not in p.relative_to(ROOT).parts]
    assert core and [p.name for p in core if imports.search(p.read_text())] == []
    code = "import sys, xmcbench, xmcbench.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_network_and_engine_settings_take_every_field_from_the_hyperparameters() -> None:
    """Built field by field: a field renamed on one side fails here instead of defaulting."""
    import dataclasses

    from xmcbench_attentionxml.method import AttentionXML
    from xmcbench_baselines.bilstm_maxpool import BiLSTMMaxPool
    from xmcbench_baselines.xmlcnn import XMLCNN

    from xmcbench.deep.estimator import train_config

    odd = {
        "embedding_dim": 24,
        "freeze_embedding": True,
        "embedding_dropout": 0.3,
        "lr": 0.02,
        "epochs": 7,
        "clip_window": 3,
        "max_steps": 11,
        "time_budget": 90,
        "swa": False,
    }
    for cls, own in ((AttentionXML, {"hidden_size": 12, "fc_sizes": [8, 4]}),
                     (XMLCNN, {"num_filters": 5, "filter_sizes": [3], "dropout": 0.1}),
                     (BiLSTMMaxPool, {"hidden_size": 12, "bottleneck_size": 9})):  # fmt: skip
        hp = cls("demo", device="cpu", **odd, **own).hyperparams()
        config = cls.network_config(hp, 50, 7)
        shape = {f.name for f in dataclasses.fields(config)} - {"vocab_size", "n_labels"}
        assert shape <= set(cls.fields), (cls.name, shape - set(cls.fields))
        assert {n: getattr(config, n) for n in shape} == {n: getattr(hp, n) for n in shape}
        assert (config.vocab_size, config.n_labels) == (50, 7)
        engine = train_config(hp, progress=False)
        read = {f.name for f in dataclasses.fields(engine)} & set(cls.fields)
        assert {n: getattr(engine, n) for n in read} == {n: getattr(hp, n) for n in read}
        assert engine.epochs == 7 and engine.time_budget == 90 and not engine.swa


def test_hyperparameter_sections_are_typed_parts_of_the_flat_values() -> None:
    """Each section holds the resolved values of its fields; no field is in two sections."""
    import dataclasses

    from xmcbench_attentionxml.method import AttentionXML
    from xmcbench_baselines.bilstm_maxpool import BiLSTMMaxPool
    from xmcbench_baselines.xmlcnn import XMLCNN

    for cls in (AttentionXML, XMLCNN, BiLSTMMaxPool):
        hp = cls("demo", device="cpu", epochs=4, embedding_dim=16).hyperparams()
        assert {"model", "training"} <= set(hp.sections), cls.name
        seen: list[str] = []
        for name, kind in hp.sections.items():
            part = hp.section(name)
            assert isinstance(part, kind)
            names = [f.name for f in dataclasses.fields(part)]
            assert set(names) <= set(cls.fields), (cls.name, name)
            assert {n: getattr(part, n) for n in names} == {n: getattr(hp, n) for n in names}
            assert all(hp.section_of(n) == name for n in names)
            seen += names
        assert len(seen) == len(set(seen)), cls.name
        assert hp.training.epochs == 4 and hp.model.embedding_dim == 16
        with pytest.raises(dataclasses.FrozenInstanceError):
            hp.training.epochs = 5  # type: ignore[misc]
        flat = cls("demo", device="cpu").get_params()
        assert not set(hp.sections) & set(flat)  # the recorded names stay flat
