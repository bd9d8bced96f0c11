"""Plugin entry point: registers AttentionXML lazily, so listing methods never imports torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmcbench.hookspecs import hookimpl


@hookimpl
def register_methods(register: Callable[..., Any]) -> None:
    """Register flat AttentionXML (BiLSTM + one attention vector per label) and its no-SWA alias."""
    register(
        "attentionxml",
        "xmcbench_attentionxml.method:AttentionXML",
        description="AttentionXML (You et al. 2019): BiLSTM + multi-label attention, flat labels",
    )
    register(
        "attentionxml-noswa",
        "xmcbench_attentionxml.method:AttentionXML",
        description="AttentionXML without stochastic weight averaging (Table 4 'BiLSTM+Att')",
        params={"swa": False},
    )
