"""Lazy Adam: dense gradients get plain Adam, sparse (row) gradients move only the rows they name.

The authors' AttentionXML trains the word embedding and the per-label attention vectors of the
candidate-scoring levels with such an optimizer (their ``DenseSparseAdam``): a row that gets no
gradient in a step keeps its value and its moments, so a rare word or label is not pushed on
stale moments between its appearances, and a step costs O(rows touched), not O(rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn


class LazyAdam(torch.optim.Optimizer):
    """Adam for dense gradients; for sparse gradients, Adam on the named rows only.

    Dense gradient: the update of ``torch.optim.Adam`` (single-tensor form, L2 weight decay
    added to the gradient), so a parameter with dense gradients trains as with Adam.

    Sparse gradient (``nn.Embedding(sparse=True)``, ``F.embedding(..., sparse=True)``): the
    gradient is coalesced (duplicate rows summed), the rows it names get Adam's moment and
    parameter updates, and every other row -- its value, first and second moment -- is left
    bitwise unchanged. Rows are gathered and scattered with index_select / index_copy_: no
    Python loop over rows, the same code on CPU and CUDA.

    Bias correction follows the authors' DenseSparseAdam (and torch's SparseAdam, TensorFlow's
    LazyAdam): one step count per parameter, advanced at every step in which the parameter has a
    gradient, not one count per row. A row first touched at step t > 1 therefore takes a first
    step of about lr * (1 - beta1) / sqrt(1 - beta2) (3.2 lr with the default betas) instead
    of Adam's lr; rows touched at every step follow Adam exactly.

    Why not ``torch.optim.SparseAdam``: it has the same lazy rows and step count but refuses
    dense gradients, so the parameters would have to be split between two optimizers before
    training, by gradient kind; here a parameter's kind is read from its gradient at each step
    (the per-label attention matrix gets dense gradients when all labels are scored and sparse
    ones when candidates are), and the checkpoint holds one optimizer state.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if lr < 0.0 or eps < 0.0 or weight_decay < 0.0:
            raise ValueError(f"lr, eps, weight_decay must be >= 0: {lr}, {eps}, {weight_decay}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                if p.grad.is_sparse:
                    _sparse_update(p, p.grad, state, group)
                else:
                    _dense_update(p, p.grad, state, group)
        return loss


def _corrections(step: int, group: dict[str, Any]) -> tuple[float, float]:
    """(step size lr / (1 - beta1^t), sqrt(1 - beta2^t)): Adam's bias corrections at step t."""
    beta1, beta2 = group["betas"]
    return group["lr"] / (1.0 - beta1**step), (1.0 - beta2**step) ** 0.5


def _dense_update(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
) -> None:
    """torch.optim.Adam's single-tensor update of the whole parameter."""
    beta1, beta2 = group["betas"]
    if group["weight_decay"]:
        grad = grad.add(p, alpha=group["weight_decay"])
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    step_size, correction2 = _corrections(state["step"], group)
    denom = (exp_avg_sq.sqrt() / correction2).add_(group["eps"])
    p.addcdiv_(exp_avg, denom, value=-step_size)


def _sparse_update(
    p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]
) -> None:
    """Adam on the rows named by a sparse (row) gradient; the other rows keep every bit."""
    grad = grad.coalesce()  # the update is non-linear in the gradient: one entry per row
    if grad.sparse_dim() != 1:
        raise ValueError("LazyAdam needs row-sparse gradients (sparse_dim 1), as nn.Embedding's")
    rows = grad.indices()[0]  # (n,) distinct row ids
    if rows.numel() == 0:
        return
    beta1, beta2 = group["betas"]
    values = grad.values()  # (n, *row shape)
    param_rows = p.index_select(0, rows)  # (n, *row shape)
    if group["weight_decay"]:
        values = values.add(param_rows, alpha=group["weight_decay"])
    exp_avg = state["exp_avg"].index_select(0, rows)  # (n, *row shape)
    exp_avg_sq = state["exp_avg_sq"].index_select(0, rows)  # (n, *row shape)
    exp_avg.lerp_(values, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(values, values, value=1.0 - beta2)
    step_size, correction2 = _corrections(state["step"], group)
    denom = (exp_avg_sq.sqrt() / correction2).add_(group["eps"])
    param_rows.addcdiv_(exp_avg, denom, value=-step_size)
    state["exp_avg"].index_copy_(0, rows, exp_avg)
    state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
    p.index_copy_(0, rows, param_rows)


def sparse_gradient_modules(model: nn.Module) -> list[nn.Module]:
    """The trainable modules of `model` whose weights get sparse (row) gradients."""
    return [
        module
        for module in model.modules()
        if isinstance(module, nn.Embedding)  # attention.LabelAttention is one too
        and module.sparse
        and module.weight.requires_grad
    ]


def dense_gradients(model: nn.Module) -> int:
    """Switch every sparse-gradient module of `model` to dense gradients; returns how many.

    For data-parallel training on a backend without sparse all-reduce (nccl): LazyAdam then
    gets dense gradients and updates like Adam.
    """
    modules = sparse_gradient_modules(model)
    for module in modules:
        module.sparse = False
    return len(modules)
