#!/usr/bin/env python3
"""PyTorch fixtures for the float64 reference layers (src/reference/layers.ts).

Regenerate with (PyTorch 1.13 from Debian: `apt-get install python3-torch`):

    /usr/bin/python3 tools/torch_fixtures.py

It writes test/fixtures/torch/<name>.json, one file per configuration below.
The files are committed, so CI and `npm test` never need PyTorch; only this
script does. The output is deterministic: each configuration seeds its own
generator, everything runs in float64 on the CPU, and the JSON is written with
Python's shortest round-trip float repr (at most 17 significant digits, exact
when parsed back as a JavaScript number). Regenerating gives identical files.

Each file holds (all float64, time-major, flat row-major lists):
  config      {kind, inputSize, hiddenSize, numLayers, bidirectional, T, B}
  shapes      parameter name -> shape (PyTorch state_dict names and order)
  state_dict  parameter name -> values
  x [T,B,I], h0 [L*D,B,H], c0 (lstm), dOutput [T,B,D*H], dhN, dcN (lstm)
  output [T,B,D*H], hN, cN (lstm)
  grads       parameter name -> dL/dparam, where
              L = sum(dOutput*output) + sum(dhN*hN) (+ sum(dcN*cN))
  dInput [T,B,I], dh0, dc0 (lstm)
"""
import json
import os
import sys

import torch

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch")

# name, kind, I, H, numLayers, bidirectional, T, B  (small: T<=5, B<=3, I<=4, H<=5)
CONFIGS = [
    ("lstm_1layer", "lstm", 3, 4, 1, False, 5, 2),
    ("lstm_2layer_bidir", "lstm", 4, 3, 2, True, 4, 3),
    ("gru_1layer", "gru", 4, 5, 1, False, 5, 3),
    ("gru_2layer_bidir", "gru", 3, 4, 2, True, 4, 2),
    ("rnn_tanh_2layer", "rnn_tanh", 4, 5, 2, False, 5, 2),
    ("rnn_relu_1layer_bidir", "rnn_relu", 3, 5, 1, True, 5, 3),
    ("lstm_b1_t1", "lstm", 2, 3, 1, False, 1, 1),
]


def make_module(kind, I, H, L, bidir):
    if kind == "lstm":
        return torch.nn.LSTM(I, H, num_layers=L, bidirectional=bidir)
    if kind == "gru":
        return torch.nn.GRU(I, H, num_layers=L, bidirectional=bidir)
    nonlinearity = "tanh" if kind == "rnn_tanh" else "relu"
    return torch.nn.RNN(I, H, num_layers=L, nonlinearity=nonlinearity, bidirectional=bidir)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def fixture(seed, name, kind, I, H, L, bidir, T, B):
    torch.manual_seed(seed)
    D = 2 if bidir else 1
    lstm = kind == "lstm"
    module = make_module(kind, I, H, L, bidir).double()
    # PyTorch initialises in float32; redraw every parameter in float64 (same
    # U(-1/sqrt(H), 1/sqrt(H)) law) so the weights use all 53 bits of mantissa.
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-H ** -0.5, H ** -0.5)
    # Draw every tensor from one seeded stream, in a fixed order.
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(L * D, B, H, dtype=torch.float64, requires_grad=True) if lstm else None
    d_output = torch.randn(T, B, D * H, dtype=torch.float64)
    d_hn = torch.randn(L * D, B, H, dtype=torch.float64)
    d_cn = torch.randn(L * D, B, H, dtype=torch.float64) if lstm else None

    if lstm:
        output, (hn, cn) = module(x, (h0, c0))
        torch.autograd.backward([output, hn, cn], [d_output, d_hn, d_cn])
    else:
        output, hn = module(x, h0)
        cn = None
        torch.autograd.backward([output, hn], [d_output, d_hn])

    params = list(module.named_parameters())
    out = {
        "config": {"kind": kind, "inputSize": I, "hiddenSize": H, "numLayers": L,
                   "bidirectional": bidir, "T": T, "B": B},
        "torch_version": torch.__version__,
        "shapes": {n: list(p.shape) for n, p in params},
        "state_dict": {n: flat(p) for n, p in params},
        "x": flat(x),
        "h0": flat(h0),
    }
    if lstm:
        out["c0"] = flat(c0)
    out["dOutput"] = flat(d_output)
    out["dhN"] = flat(d_hn)
    if lstm:
        out["dcN"] = flat(d_cn)
    out["output"] = flat(output)
    out["hN"] = flat(hn)
    if lstm:
        out["cN"] = flat(cn)
    out["grads"] = {n: flat(p.grad) for n, p in params}
    out["dInput"] = flat(x.grad)
    out["dh0"] = flat(h0.grad)
    if lstm:
        out["dc0"] = flat(c0.grad)
    return out


def dumps(obj, indent=0):
    """JSON with one key per line and every number list on a single line (compact, diffable)."""
    pad = "  " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        if all(not isinstance(v, (dict, list)) for v in obj.values()):
            return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in obj.items()) + "}"
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(obj, list):
        # json.dumps writes floats with repr(): the shortest string that parses back to the same double.
        return "[" + ",".join(json.dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for seed, (name, *cfg) in enumerate(CONFIGS):
        text = dumps(fixture(1000 + seed, name, *cfg)) + "\n"
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w") as f:
            f.write(text)
        total += len(text)
        print(f"{os.path.relpath(path)}: {len(text)} bytes")
    print(f"total {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
