"""BiLSTM text encoder with learned initial states and exact padding handling.

Standalone so that other models (e.g. a BiLSTM + max-pool baseline) reuse this very class.

Padding is handled exactly without packed sequences, which run 10-16x slower on CPU (measured:
11.5 s against 0.7 s of CPU per forward + backward of a 32 x 220 batch): the forward direction
reads the padded batch as is (padding only follows the real tokens, so it never reaches them),
and the backward direction reads each document reversed within its own length, so its padding
also comes last. Outputs on padding are zero. Both directions use the fused LSTM kernels.
"""

from __future__ import annotations

import torch
from torch import nn


def reverse_within_lengths(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(b, T) gather index reversing each row's first lengths[i] positions, padding kept in place.

    The map is its own inverse: applying it twice gives the original order.
    """
    positions = torch.arange(width, device=lengths.device)[None, :]  # (1, T)
    reversed_ = lengths[:, None] - 1 - positions  # (b, T)
    return torch.where(positions < lengths[:, None], reversed_, positions)


class BiLSTMEncoder(nn.Module):
    """Bidirectional LSTM over a padded batch: both directions concatenated, zero on padding.

    Initial hidden and cell states are parameters learned with the rest of the model; padded
    positions never influence the outputs at real positions.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1) -> None:
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
        self.forward_lstms = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in sizes)
        self.backward_lstms = nn.ModuleList(
            nn.LSTM(n, hidden_size, batch_first=True) for n in sizes
        )
        # (layers, directions, hidden), expanded over the batch at run time
        self.h0 = nn.Parameter(torch.empty(num_layers, 2, hidden_size))
        self.c0 = nn.Parameter(torch.empty(num_layers, 2, hidden_size))
        nn.init.normal_(self.h0, std=0.1)
        nn.init.normal_(self.c0, std=0.1)

    @property
    def output_size(self) -> int:
        return 2 * self.hidden_size

    def _initial(self, layer: int, direction: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.h0[layer, direction][None, None, :].expand(1, batch, -1).contiguous()
        c = self.c0[layer, direction][None, None, :].expand(1, batch, -1).contiguous()
        return h, c  # (1, b, hidden) each

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(b, T, input) embeddings + (b,) real lengths >= 1 -> (b, T, 2 * hidden) outputs."""
        batch, width = x.shape[0], x.shape[1]
        lengths = lengths.to(x.device)
        mask = (torch.arange(width, device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        flip = reverse_within_lengths(lengths, width).unsqueeze(-1)  # (b, T, 1)
        for layer in range(self.num_layers):
            ahead, _ = self.forward_lstms[layer](x, self._initial(layer, 0, batch))  # (b, T, N)
            x_rev = torch.gather(x, 1, flip.expand(-1, -1, x.shape[2]))
            behind, _ = self.backward_lstms[layer](x_rev, self._initial(layer, 1, batch))
            behind = torch.gather(behind, 1, flip.expand(-1, -1, self.hidden_size))  # (b, T, N)
            x = torch.cat([ahead, behind], dim=2).masked_fill(~mask, 0.0)  # (b, T, 2N)
        return x
