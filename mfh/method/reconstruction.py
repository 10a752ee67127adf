"""The reconstruction network g of MFH: U hashed values -> one virtual weight.

Depth G counts layers with the input, as in the paper: G2 = U->1, G3 = U->U/2->1,
G4 = U->U->U/2->1 (widths below 1 round up to 1), tanh hidden units, linear output. G1 is the
identity (U = 1 only). Inputs are laid out (U, n) so each layer is one small matrix product.

g has no biases by default (`model.g_bias: false`): a bias of g shifts every virtual weight it
serves by the same amount, and its gradient sums the dense weight gradient over the whole
network; with biases, U4-G4 on mlp3 did not train at all (loss stuck at 2.30). Without them g
is odd, g(-z) = -g(z), matching the symmetric sign hashes.

Initialisation (`model.g_init`, `G_INITS`). At the start z is small (|z| ~ 1/sqrt(3 fan_in)),
so tanh is linear and g is z -> c.z with c = A_1^T ... A_G^T (the product of its weights).
- `orthogonal` (default): every weight matrix of g gets orthonormal rows (a uniform draw,
  orthonormalised by Gram-Schmidt in double precision). Every layer of g has at most as many
  outputs as inputs, so each A^T preserves norms and |c| = 1 exactly on every seed: the virtual
  weights start with the variance of one hashed value, the HashedNets scale of their layer.
- `sign`: the weights +-1/sqrt(fan_in) with random signs, the behaviour before issue 25, kept so
  that the records made with it keep their meaning. Equal magnitudes can cancel: for U4-G3
  each c_u is 0 with probability 1/2, so about one seed in 16 starts with all virtual weights
  at zero (a saddle at chance loss), and the starting scale varies from 0 to 1.9 times
  HashedNets' across seeds (scripts/init_scale.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mfh.method.specs import G_INITS


def g_widths(hashes: int, g_layers: int) -> list[int]:
    """Layer widths of g, input first: `g_widths(4, 3) == [4, 2, 1]` (g_layers in G_LAYERS)."""
    half = max(1, math.ceil(hashes / 2))
    widths = {1: [hashes], 2: [hashes, 1], 3: [hashes, half, 1], 4: [hashes, hashes, half, 1]}
    return widths[g_layers]


def g_param_count(widths: list[int], bias: bool) -> int:
    """Number of parameters (weights, and biases if `bias`) of g with these widths."""
    return sum(a * b + b * bias for a, b in zip(widths[:-1], widths[1:], strict=True))


def g_param_bounds(widths: list[int], bias_bound: float | None) -> torch.Tensor:
    """Per-parameter init bound for -D, where every parameter of g is a hashed value of w'
    drawn from U(-bound, bound), in g's packing order: weights sqrt(3 / fan_in) (variance
    1 / fan_in, as `Reconstruction`'s +-1/sqrt(fan_in) weights), then biases `bias_bound`
    (None: no biases)."""
    bounds = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        biases = [bias_bound] * b if bias_bound is not None else []
        bounds += [math.sqrt(3 / a)] * (a * b) + biases
    return torch.tensor(bounds)


def orthonormal_rows(rows: int, cols: int) -> torch.Tensor:
    """A (rows, cols) float32 matrix with orthonormal rows (rows <= cols), drawn from the
    global torch RNG: rows ~ U(-1, 1)^cols, then modified Gram-Schmidt in Python floats (IEEE
    double, a fixed order of operations: the same bits on every machine)."""
    if rows > cols:
        raise ValueError(f"{rows} orthonormal rows do not fit in {cols} dimensions")
    draw = torch.empty(rows, cols).uniform_(-1, 1).double().tolist()
    basis: list[list[float]] = []
    for row in draw:
        for q in basis:
            dot = math.fsum(x * y for x, y in zip(row, q, strict=True))
            row = [x - dot * y for x, y in zip(row, q, strict=True)]
        norm = math.sqrt(math.fsum(x * x for x in row))
        if norm < 1e-6:   # a draw (almost) in the span of the previous rows: probability ~0
            raise ValueError("degenerate draw for an orthonormal row; use another seed")
        basis.append([x / norm for x in row])
    return torch.tensor(basis, dtype=torch.float32)


class Reconstruction(nn.Module):
    """g with its own parameters alpha (shared by all virtual weights it serves).

    forward: z (U, n) -> (n,). Biases (if any) start at zero; the weights as `init` says
    (module docstring): `orthogonal` gives g a linear gain |c| = 1 on every seed.
    """

    def __init__(self, widths: list[int], bias: bool = False, init: str = "orthogonal") -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a Reconstruction needs at least one layer; G1 is the identity")
        if init not in G_INITS:
            raise ValueError(f"g_init={init!r} is not allowed; allowed: {', '.join(G_INITS)}")
        self.widths = widths
        self.layers = nn.ModuleList(
            nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        with torch.no_grad():
            for layer in self.layers:
                if init == "orthogonal":
                    layer.weight.copy_(orthonormal_rows(*layer.weight.shape))
                else:
                    signs = torch.randint(0, 2, layer.weight.shape).mul(2).sub(1)
                    layer.weight.copy_(signs / math.sqrt(layer.in_features))
                if bias:
                    layer.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for k, layer in enumerate(self.layers):
            z = layer.weight @ z if layer.bias is None else torch.addmm(
                layer.bias.unsqueeze(1), layer.weight, z)
            if k < len(self.layers) - 1:
                z = torch.tanh(z)
        return z.squeeze(0)


def per_weight_g(z: torch.Tensor, alpha: torch.Tensor, widths: list[int],
                 bias: bool) -> torch.Tensor:
    """g evaluated with a different parameter vector for every virtual weight (-D).

    z: (U, n) hashed values; alpha: (R, n) parameters, packed per layer as the weight (out, in)
    row-major then, if `bias`, the bias (out). Returns (n,).
    """
    offset = 0
    last = len(widths) - 2
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        weight = alpha[offset:offset + a * b].view(b, a, -1)
        z = (weight * z.unsqueeze(0)).sum(1)
        offset += a * b
        if bias:
            z = z + alpha[offset:offset + b]
            offset += b
        if k < last:
            z = torch.tanh(z)
    return z.squeeze(0)
