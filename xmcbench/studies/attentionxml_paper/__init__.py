"""The AttentionXML paper (You et al. 2019) as a study: Tables 2-9, Figure 2, reported numbers.

Declared in the ``xmcbench`` entry-point group like any plugin; `xmcbench report NAME` and the
``[reported]`` rows of `compare` and `leaderboard` come from what it registers here. Builders
and data load only when a report is built or reported rows are read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmcbench.hookspecs import hookimpl
from xmcbench.studies import FIGURE

_HERE = __name__
_TABLES = {
    "table2": "hyperparameters, computation time and model size of one method",
    "table3": "P@k per dataset, beside the paper's numbers",
    "table4": "P@5 of the ablation: XML-CNN, BiLSTM, +attention, +SWA",
    "table5": "one method by number of trees",
    "table6": "P@k, N@k and PSP@k per dataset, beside the paper's numbers",
    "table7": "one method by K (with C)",
    "table8": "one method by tree height H",
    "table9": "P@5 of one method by tree height H",
}
_WITH_REPORTED = ("table3", "table6")  # tables the paper's numbers alone can fill

# the paper's order of datasets and methods (Tables 3 and 6 merged) and its dataset names
DATASET_ORDER = (
    "eurlex-4k", "wiki10-31k", "amazoncat-13k", "amazon-670k", "wiki-500k", "amazon-3m",
)  # fmt: skip
DATASET_NAMES = {
    "eurlex-4k": "EUR-Lex",
    "wiki10-31k": "Wiki10-31K",
    "amazoncat-13k": "AmazonCat-13K",
    "amazon-670k": "Amazon-670K",
    "wiki-500k": "Wiki-500K",
    "amazon-3m": "Amazon-3M",
}
METHOD_ORDER = (
    "annexml",
    "dismec",
    "proxml",
    "pfastrexml",
    "parabel",
    "xt",
    "bonsai",
    "mlc2seq",
    "xml-cnn",
    "attentionxml-1",
    "attentionxml",
)


@hookimpl
def register_reports(register: Callable[..., Any]) -> None:
    """Tables 2-9 (built in `.reports`) and Figure 2 (the PSP@k bars of label-tree methods)."""
    for name, description in _TABLES.items():
        register(
            name,
            f"{_HERE}.reports:{name}",
            description=f"Table {name[-1]}: {description}",
            needs_measured=name not in _WITH_REPORTED,
        )
    register(
        "figure2",
        f"{_HERE}.reports:figure2",
        kind=FIGURE,
        description="Figure 2: PSP@k of the label tree-based methods",
    )


@hookimpl
def register_reported(register: Callable[..., Any]) -> None:
    """The numbers of the paper's Tables 3 and 6 (Table 6 wins where both give a row)."""
    register(
        "attentionxml-paper",
        f"{_HERE}.reported:reported_records",
        method_order=METHOD_ORDER,
        dataset_order=DATASET_ORDER,
        dataset_titles=DATASET_NAMES,
    )
