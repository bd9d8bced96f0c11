"""The paper presets are the authors' configuration files; `xmcbench methods NAME` lists them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import run_cli

# github.com/yourh/AttentionXML configure/models/*.yaml: train.nb_epoch and train.swa_warmup per
# level, train.batch_size, model.hidden_size, model.linear_size, k, top; scripts/run_xml.sh
# trains tree ids 0, 1, 2 and ensembles them
AUTHORS = {
    "eurlex-4k": {"level_epochs": [30], "level_swa": [10], "batch_size": 40, "hidden_size": 256,
                  "fc_sizes": [256], "freeze_embedding": True, "valid_size": 200},
    "wiki10-31k": {"level_epochs": [30], "level_swa": [4], "batch_size": 40, "hidden_size": 256,
                   "fc_sizes": [256], "freeze_embedding": True, "valid_size": 200},
    "amazoncat-13k": {"level_epochs": [10], "level_swa": [2], "batch_size": 200,
                      "hidden_size": 512, "fc_sizes": [512, 256], "freeze_embedding": False,
                      "valid_size": 4000},
    "amazon-670k": {"level_epochs": [10] * 4, "level_swa": [6, 2, 2, 2], "batch_size": 200,
                    "hidden_size": 512, "fc_sizes": [512, 256], "tree_k": 8, "candidates": 160,
                    "valid_size": 4000},
    "wiki-500k": {"level_epochs": [5, 5], "level_swa": [2, 1], "batch_size": 200,
                  "hidden_size": 512, "fc_sizes": [512, 256], "tree_k": 64, "candidates": 15,
                  "valid_size": 4000},
    "amazon-3m": {"level_epochs": [5] * 4, "level_swa": [2, 1, 1, 1], "batch_size": 200,
                  "hidden_size": 512, "fc_sizes": [512, 256], "tree_k": 8, "candidates": 160,
                  "valid_size": 4000},
}  # fmt: skip


def per_level(values: dict, flat: str, levels: str, n: int) -> list:
    """What each of `n` levels trains with: `levels[d]` (last entry onwards), else `flat`."""
    given = values[levels]
    return [values[flat] if not given else given[min(d, len(given) - 1)] for d in range(n)]


@pytest.fixture(scope="module")
def described() -> dict:
    result = run_cli("methods", "attentionxml", "--json", check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_paper_presets_are_the_authors_configuration(described: dict, name: str) -> None:
    values, authors = described["presets"][name], AUTHORS[name]
    n_levels = values["tree_height"] + 1
    assert n_levels == len(authors["level_epochs"])
    assert per_level(values, "epochs", "level_epochs", n_levels) == authors["level_epochs"]
    assert per_level(values, "swa_warmup", "level_swa_warmup", n_levels) == authors["level_swa"]
    for key in ("batch_size", "hidden_size", "fc_sizes", "tree_k", "candidates", "valid_size"):
        if key in authors:
            assert values[key] == authors[key], key
    assert values["trees"] == 3  # the paper's AttentionXML: an ensemble of three trees
    assert values["embedding_dim"] == 300 and values["max_len"] == 500
    assert values["eval_every"] == 100 and values["patience"] == 50
    assert values["encoder_dropout"] == 0.5 and values["time_budget"] == "none"


def test_methods_describes_parameters_and_the_auto_default(described: dict) -> None:
    assert described["default_preset"] == "auto"
    params = {p["name"]: p for p in described["params"]}
    assert params["time_budget"]["default"] == "none"
    assert "30m" in params["time_budget"]["type"]
    assert params["tree_k"]["type"] == "an integer >= 2"
    assert described["presets"]["auto"]["time_budget"] == "30m"
    assert {"cpu", "cpu-tree", "demo"} <= set(described["presets"])


def test_methods_table_applies_an_alias_fixed_params() -> None:
    table = run_cli("methods", "attentionxml-noswa", check=True).stdout
    assert "attentionxml-noswa parameters" in table and "amazon-670k" in table
    assert '"swa": false' in table  # the alias's swa=false differs from the default in every row
    missing = run_cli("methods", "attentionxmll")
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")


def test_listing_methods_imports_no_torch() -> None:
    code = (
        "import sys, io, contextlib; from xmcbench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out: main(['methods', '--json'])\n"
        "names = [m['name'] for m in __import__('json').loads(out.getvalue())]\n"
        "assert 'attentionxml-noswa' in names, names\n"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
