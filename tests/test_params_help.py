"""Every method explains its parameters: a one-line meaning each, and a section for deep ones."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from helpers import run_cli

from xmcbench.cli.listings import method_description
from xmcbench.paramspec import Param, choice, describe_signature, flag, integer, number
from xmcbench.plugins import load_plugins

pytest.importorskip("torch")


def test_every_registered_method_gives_every_parameter_a_meaning() -> None:
    plugins = load_plugins()
    described = 0
    for spec in plugins.methods:
        info = method_description(spec)
        for param in info["params"]:
            help_text = param.get("help")
            assert isinstance(help_text, str) and help_text.strip(), (spec.name, param["name"])
            assert "\n" not in help_text, (spec.name, param["name"])  # one line
            described += 1
    assert described > 100  # AttentionXML alone has 38 parameters


def test_methods_json_carries_each_parameters_meaning() -> None:
    out = run_cli("methods", "parabel", "--json", check=True)
    params = {p["name"]: p for p in json.loads(out.stdout)["params"]}
    assert params["n_trees"]["help"] == "trees in the forest"
    assert params["n_trees"]["default"] == 3 and params["n_trees"]["type"] == "an integer >= 1"
    assert "seed" not in params and params["deterministic"]["help"]

    out = run_cli("methods", "xml-cnn", "--json", check=True)
    params = {p["name"]: p for p in json.loads(out.stdout)["params"]}
    assert params["num_filters"]["help"] == "feature maps per filter width"
    assert params["lr"]["help"] == "learning rate of Adam"
    assert params["lr"]["section"] == "training" and params["max_len"]["section"] == "data"


def test_the_deep_methods_put_every_parameter_in_one_section_and_agree_on_shared_ones() -> None:
    from xmcbench_attentionxml.method import AttentionXML
    from xmcbench_baselines.bilstm_maxpool import BiLSTMMaxPool
    from xmcbench_baselines.xmlcnn import XMLCNN

    sections: dict[str, dict[str, str]] = {}
    for cls in (AttentionXML, XMLCNN, BiLSTMMaxPool):
        described = {p["name"]: p["section"] for p in cls.describe()["params"]}
        assert set(described) == set(cls.fields)
        assert None not in described.values(), [n for n, s in described.items() if s is None]
        sections[cls.name] = described
    shared = set.intersection(*(set(s) for s in sections.values()))
    assert {"embedding_init", "max_len", "batch_size", "lr", "predict_batch_size"} <= shared
    for name in shared:  # a name means the same part of the method everywhere
        assert len({s[name] for s in sections.values()}) == 1, name
    assert sections["attentionxml"]["embedding_init"] == "embedding"
    assert sections["xml-cnn"]["filter_sizes"] == "model"
    assert sections["attentionxml"]["tree_k"] == "tree"
    hp = XMLCNN("demo", device="cpu", max_len=64, ppmi_window=3).hyperparams()
    assert hp.data.max_len == 64 and hp.embedding.ppmi_window == 3
    assert hp.prediction.predict_batch_size == hp.predict_batch_size


def test_a_spec_keeps_its_meaning_and_checks_as_before() -> None:
    spec = integer(1, help="trees in the forest")
    assert spec.help == "trees in the forest" and integer(1).help == ""
    assert spec.check("n", 3.0) == 3 and spec.describe() == "an integer >= 1"
    assert spec.with_help("other").help == "other" and spec.with_help("other").low == 1
    assert number(0, low_open=True, help="x").help == "x" and flag(help="y").help == "y"
    assert choice("a", "b", help="z").choices == ("a", "b")


def test_describe_signature_reads_keywords_and_specs() -> None:
    class Linear:
        def __init__(self, *, c: float = 1.0, loops: int = 5, seed: int = 0, device: str = "auto"):
            pass

    info = describe_signature(Linear, {"c": number(0, low_open=True, help="cost")}, {"c": 2.0})
    params = {p["name"]: p for p in info["params"]}
    assert set(params) == {"c", "loops"}  # seed and device are the harness's
    assert params["c"] == {
        "name": "c",
        "default": 1.0,
        "type": "a finite number > 0",
        "help": "cost",
    }
    assert params["loops"]["help"] == "" and params["loops"]["type"] == "int"
    assert info["fixed"] == {"c": 2.0}


# ---------------------------------------------------------------- one declaration of the keywords
def test_deep_constructors_take_every_field_of_their_dataclass_by_name() -> None:
    from xmcbench_attentionxml.method import AttentionXML
    from xmcbench_baselines.bilstm_maxpool import BiLSTMMaxPool
    from xmcbench_baselines.xmlcnn import XMLCNN

    for cls in (AttentionXML, XMLCNN, BiLSTMMaxPool):
        signature = inspect.signature(cls)
        assert list(signature.parameters) == ["preset", "seed", "device", "progress", *cls.fields]
        assert all(signature.parameters[n].default is None for n in cls.fields)
        method = cls("demo", device="cpu", progress=False, lr=0.5, max_len=64)
        assert method.lr == 0.5 and method.epochs is None  # stored as given, None = the preset's
        params = method.get_params()
        assert params["lr"] == 0.5 and params["max_len"] == 64 and params["preset"] == "demo"
        again = cls(params.pop("preset"), device="cpu", **{k: params[k] for k in cls.fields})
        assert again.get_params() == method.get_params()  # scikit-learn style round trip
        with pytest.raises(TypeError, match=r"\['epoch'\] \(did you mean 'epochs'\?\)"):
            cls(device="cpu", epoch=3)
    assert AttentionXML(device="cpu").auto_ is None  # a subclass's own set-up still runs


def test_a_field_added_to_the_dataclass_is_a_keyword_without_touching_the_class() -> None:
    from xmcbench_baselines.xmlcnn import XMLCNN, XMLCNNParams

    @dataclass(frozen=True)
    class WiderParams(XMLCNNParams):
        stride: int = 1
        specs: ClassVar[dict[str, Param]] = {
            **XMLCNNParams.specs,
            "stride": integer(1, help="step between convolution windows"),
        }

    class Wider(XMLCNN):
        params_class = WiderParams

    assert "stride" in inspect.signature(Wider).parameters
    assert "stride" not in inspect.signature(XMLCNN).parameters
    assert Wider("demo", device="cpu", stride=2).hyperparams().stride == 2
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        Wider("demo", device="cpu", stride=0).hyperparams()
