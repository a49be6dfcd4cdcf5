#!/usr/bin/env python3
"""PyTorch fixtures for optimizers, learning-rate schedules and whole models
(test/torch-models.test.ts).

Regenerate with (PyTorch 1.13 from Debian: `apt-get install python3-torch`):

    /usr/bin/python3 tools/torch_model_fixtures.py

It writes test/fixtures/torch-models/*.json. The files are committed, so CI
and `npm test` never need PyTorch; only this script does. The output is
deterministic: every fixture seeds its own generator (torch.manual_seed), runs
single-threaded on the CPU in float32 with the single-tensor (foreach=False)
optimizer paths, and each number is written as the shortest decimal string
that parses back to the same float32 (numpy's float32 repr), so a JavaScript
`Float32Array.from(list)` gets the exact float32 values torch used. Re-running
gives byte-identical files.

Files:
  optimizers.json  one float32 parameter tensor p0 [2, 5] (10 values: two
                   f32x4 tiles and a 2-element tail), six gradient tensors, and
                   for each optimizer case our OptimizerSpec, the equivalent
                   torch.optim call, and the parameters after every step;
                   optional per-step learning rates (case driven by a torch
                   lr_scheduler, stepped after optimizer.step() as torch
                   prescribes).
  schedules.json   torch lr_scheduler (StepLR, CosineAnnealingLR): the lr used
                   by optimizer update k = 1..N, with our ScheduleSpec.
  model_*.json     a torch module whose submodules are named `embedding`
                   (nn.Embedding, token inputs only), `rnn0` (nn.LSTM / GRU /
                   RNN, time-major) and `head` (nn.Linear), so its state_dict
                   names are our Sequential's. Holds our SequentialSpec, the
                   batch (time-major ids or features, lengths, targets), the
                   weights, the loss, every gradient, and the weights after one
                   torch.optim.Adam step (`adam`: its hyperparameters).
                   LM (many-to-many): cross-entropy over all steps, mean over
                   targets != -1 (ignore_index=-1). Many-to-one: the output at
                   each sequence's last real step (lengths[b]-1) -> head, MSE
                   mean over [B, O].
  seq2seq_*.json   encoder (embedding + LSTM over right-padded sources, final
                   (h, c) of each source at its own length, via
                   pack_padded_sequence) -> decoder (embedding + LSTM + Linear)
                   with teacher forcing: inputs [bos, y...], targets [y..., eos]
                   (padding -1, ignored), cross-entropy mean over real targets.
                   Names as our Seq2Seq: encoder.embedding.*, encoder.rnn.*,
                   decoder.embedding.*, decoder.rnn0.*, decoder.head.*.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch-models")

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)


# ---- output -------------------------------------------------------------------


class F32List(list):
    """A list of float32 values, written on one line in shortest float32 form."""


def f32(t):
    if isinstance(t, torch.Tensor):
        return F32List(float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist())
    return F32List(float(v) for v in t)


def num(v):
    s = str(np.float32(v))
    if s in ("nan", "inf", "-inf"):
        raise ValueError("non-finite value in a fixture")
    return s


def dumps(obj, indent=0):
    """JSON with one key per line and every number list on a single line (compact, diffable)."""
    pad = "  " * (indent + 1)
    if isinstance(obj, F32List):
        return "[" + ", ".join(num(v) for v in obj) + "]"
    if isinstance(obj, float) and not isinstance(obj, bool):
        return json.dumps(obj)
    if isinstance(obj, dict):
        if all(not isinstance(v, (dict, list)) for v in obj.values()):
            return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in obj.items()) + "}"
        items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj)
        items = [pad + dumps(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(obj)


def write(name, obj):
    obj = {"torch_version": torch.__version__, **obj}
    path = os.path.join(OUT_DIR, name + ".json")
    with open(path, "w") as f:
        f.write(dumps(obj) + "\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


# ---- optimizers ---------------------------------------------------------------

# name, our OptimizerSpec, torch constructor, torch kwargs, optional schedule
# (our ScheduleSpec, torch scheduler constructor, kwargs).
OPTIMIZERS = [
    ("sgd", {"type": "sgd", "lr": 0.1}, "SGD", {"lr": 0.1}, None),
    ("sgd_wd", {"type": "sgd", "lr": 0.1, "weightDecay": 0.05}, "SGD", {"lr": 0.1, "weight_decay": 0.05}, None),
    ("sgd_momentum", {"type": "sgd", "lr": 0.05, "momentum": 0.9, "weightDecay": 0.01}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}, None),
    ("sgd_nesterov", {"type": "sgd", "lr": 0.05, "momentum": 0.8, "nesterov": True, "weightDecay": 0.01}, "SGD",
     {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}, None),
    ("adagrad", {"type": "adagrad", "lr": 0.1}, "Adagrad", {"lr": 0.1}, None),
    ("adagrad_wd", {"type": "adagrad", "lr": 0.1, "eps": 1e-6, "weightDecay": 0.02}, "Adagrad",
     {"lr": 0.1, "eps": 1e-6, "weight_decay": 0.02}, None),
    ("rmsprop", {"type": "rmsprop", "lr": 0.01}, "RMSprop", {"lr": 0.01}, None),
    ("rmsprop_wd", {"type": "rmsprop", "lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weightDecay": 0.05}, "RMSprop",
     {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.05}, None),
    ("adam", {"type": "adam", "lr": 0.01}, "Adam", {"lr": 0.01}, None),
    ("adam_wd", {"type": "adam", "lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weightDecay": 0.1}, "Adam",
     {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, None),
    # AdamW with the default weight decay (0.01 in both libraries) and with an explicit one.
    ("adamw_default", {"type": "adamw", "lr": 0.01}, "AdamW", {"lr": 0.01}, None),
    ("adamw", {"type": "adamw", "lr": 0.02, "beta1": 0.85, "beta2": 0.995, "weightDecay": 0.1}, "AdamW",
     {"lr": 0.02, "betas": (0.85, 0.995), "weight_decay": 0.1}, None),
    # Learning rates varying per update: the factor our trainer uses for update k (1-based) is
    # scheduleFactor(schedule, k - 1), i.e. the optimizer's step count before the update.
    ("sgd_momentum_steplr", {"type": "sgd", "lr": 0.1, "momentum": 0.9}, "SGD", {"lr": 0.1, "momentum": 0.9},
     ({"type": "step", "stepSize": 2, "gamma": 0.5}, "StepLR", {"step_size": 2, "gamma": 0.5})),
    ("adam_cosine", {"type": "adam", "lr": 0.05}, "Adam", {"lr": 0.05},
     ({"type": "cosine", "totalSteps": 6, "minFactor": 0.1}, "CosineAnnealingLR", {"T_max": 6, "eta_min": 0.005})),
]


def optimizer_fixtures():
    torch.manual_seed(1000)
    p0 = torch.randn(2, 5)
    grads = [torch.randn(2, 5) for _ in range(6)]
    grads[2][0, 1] = 0.0  # an exactly-zero gradient (Adagrad / RMSprop / Adam divide by ~eps there)
    cases = []
    for name, spec, ctor, kwargs, sched in OPTIMIZERS:
        p = torch.nn.Parameter(p0.clone())
        opt = getattr(torch.optim, ctor)([p], foreach=False, **kwargs)
        scheduler = getattr(torch.optim.lr_scheduler, sched[1])(opt, **sched[2]) if sched else None
        steps, lrs = [], []
        for g in grads:
            p.grad = g.clone()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if scheduler:
                scheduler.step()
            steps.append(f32(p))
        kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
        case = {"name": name, "spec": spec, "torch": f"torch.optim.{ctor}(**{json.dumps(kw)}, foreach=False)"}
        if sched:
            case["schedule"] = sched[0]
            case["torchSchedule"] = f"torch.optim.lr_scheduler.{sched[1]}(**{json.dumps(sched[2])})"
            case["lrs"] = lrs
        case["params"] = steps
        cases.append(case)
    write("optimizers", {"shape": [2, 5], "p0": f32(p0), "grads": [f32(g) for g in grads], "cases": cases})


# ---- schedules ------------------------------------------------------------------

SCHEDULES = [
    ("steplr", {"type": "step", "stepSize": 3, "gamma": 0.5}, "StepLR", {"step_size": 3, "gamma": 0.5}, 0.1, 12),
    ("steplr_default_gamma", {"type": "step", "stepSize": 4}, "StepLR", {"step_size": 4}, 1.0, 10),
    ("cosine", {"type": "cosine", "totalSteps": 8}, "CosineAnnealingLR", {"T_max": 8}, 0.1, 8),
    # Past T_max torch's cosine keeps going (it is periodic: the lr rises again); ours stays at the minimum.
    ("cosine_min_past_end", {"type": "cosine", "totalSteps": 5, "minFactor": 0.01}, "CosineAnnealingLR",
     {"T_max": 5, "eta_min": 0.001}, 0.1, 12),
]


def schedule_fixtures():
    out = []
    for name, spec, ctor, kwargs, base, n in SCHEDULES:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        sch = getattr(torch.optim.lr_scheduler, ctor)(opt, **kwargs)
        lrs = []
        for _ in range(n):
            lrs.append(opt.param_groups[0]["lr"])  # the lr of this update
            p.grad = torch.zeros(1)
            opt.step()
            sch.step()
        out.append({"name": name, "spec": spec, "torch": f"torch.optim.lr_scheduler.{ctor}(**{json.dumps(kwargs)})",
                    "baseLr": base, "lrs": lrs})
    write("schedules", {"note": "lrs[k-1] is the lr torch uses for optimizer update k (scheduler.step() after optimizer.step())",
                        "schedules": out})


# ---- whole models ---------------------------------------------------------------


def make_rnn(cell, I, H, L):
    if cell == "lstm":
        return nn.LSTM(I, H, num_layers=L)
    if cell == "gru":
        return nn.GRU(I, H, num_layers=L)
    return nn.RNN(I, H, num_layers=L, nonlinearity="relu" if cell == "rnn_relu" else "tanh")


class SeqModel(nn.Module):
    def __init__(self, spec):
        super().__init__()
        inp, r = spec["input"], spec["recurrent"][0]
        if inp["type"] == "tokens":
            self.embedding = nn.Embedding(inp["vocabSize"], inp["embeddingDim"])
            I = inp["embeddingDim"]
        else:
            self.embedding = None
            I = inp["size"]
        self.rnn0 = make_rnn(r["cell"], I, r["hiddenSize"], r.get("numLayers", 1))
        self.head = nn.Linear(r["hiddenSize"], spec["output"]["size"])
        self.mode = spec["mode"]

    def forward(self, x, lengths):
        if self.embedding is not None:
            x = self.embedding(x)
        y, _ = self.rnn0(x)  # [T, B, H]
        if self.mode == "many-to-one":
            y = y[lengths - 1, torch.arange(y.shape[1])]  # [B, H]: each sequence's last real step
        return self.head(y)


ADAM = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

# name, seed, spec, T, B, lengths (many-to-one) or None
MODELS = [
    ("model_lm_lstm", 11, {"input": {"type": "tokens", "vocabSize": 7, "embeddingDim": 4},
                           "recurrent": [{"cell": "lstm", "hiddenSize": 5, "numLayers": 2}],
                           "output": {"size": 7, "loss": "xent"}, "mode": "many-to-many"}, 6, 3, None),
    ("model_lm_gru", 12, {"input": {"type": "tokens", "vocabSize": 6, "embeddingDim": 3},
                          "recurrent": [{"cell": "gru", "hiddenSize": 6, "numLayers": 2}],
                          "output": {"size": 6, "loss": "xent"}, "mode": "many-to-many"}, 5, 4, None),
    ("model_lm_rnn", 13, {"input": {"type": "tokens", "vocabSize": 5, "embeddingDim": 4},
                          "recurrent": [{"cell": "rnn", "hiddenSize": 4, "numLayers": 1}],
                          "output": {"size": 5, "loss": "xent"}, "mode": "many-to-many"}, 7, 2, None),
    ("model_m2o_lstm", 21, {"input": {"type": "features", "size": 3},
                            "recurrent": [{"cell": "lstm", "hiddenSize": 4, "numLayers": 2}],
                            "output": {"size": 2, "loss": "mse"}, "mode": "many-to-one"}, 5, 3, None),
    ("model_m2o_gru_lengths", 22, {"input": {"type": "features", "size": 3},
                                   "recurrent": [{"cell": "gru", "hiddenSize": 5, "numLayers": 2}],
                                   "output": {"size": 2, "loss": "mse"}, "mode": "many-to-one"}, 6, 4, [6, 3, 1, 5]),
    ("model_m2o_rnn_relu", 23, {"input": {"type": "features", "size": 2},
                                "recurrent": [{"cell": "rnn_relu", "hiddenSize": 5, "numLayers": 2}],
                                "output": {"size": 3, "loss": "mse"}, "mode": "many-to-one"}, 5, 3, None),
]


def model_fixture(name, seed, spec, T, B, lengths):
    torch.manual_seed(seed)
    model = SeqModel(spec)
    O = spec["output"]["size"]
    if spec["input"]["type"] == "tokens":
        V = spec["input"]["vocabSize"]
        ids = torch.randint(0, V, (T, B))
        targets = torch.randint(0, O, (T, B))
        ignore = torch.rand(T, B) < 0.25
        ignore[0, 0] = True
        ignore[1, 0] = False
        targets[ignore] = -1
        x = ids
        lengths_t = None
    else:
        x = torch.randn(T, B, spec["input"]["size"])
        targets = torch.randn(B, O)
        lengths_t = torch.tensor(lengths if lengths else [T] * B)
    sd0 = {k: v.clone() for k, v in model.state_dict().items()}
    out = model(x, lengths_t)
    if spec["output"]["loss"] == "xent":
        loss = F.cross_entropy(out.reshape(-1, O), targets.reshape(-1), ignore_index=-1)
    else:
        loss = F.mse_loss(out, targets)
    loss.backward()
    grads = {k: f32(p.grad) for k, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["eps"],
                           foreach=False)
    opt.step()
    batch = {"T": T, "B": B}
    if spec["input"]["type"] == "tokens":
        batch["ids"] = x.reshape(-1).tolist()
        batch["targets"] = targets.reshape(-1).tolist()
    else:
        batch["features"] = f32(x)
        batch["targets"] = f32(targets)
        if lengths:
            batch["lengths"] = lengths
    write(name, {
        "spec": spec,
        "batch": batch,
        "shapes": {k: list(v.shape) for k, v in sd0.items()},
        "state_dict": {k: f32(v) for k, v in sd0.items()},
        "loss": float(loss.item()),
        "grads": grads,
        "adam": ADAM,
        "after_adam": {k: f32(v) for k, v in model.state_dict().items()},
    })


# ---- seq2seq ----------------------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, V, E, H, L):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, num_layers=L)


class Decoder(nn.Module):
    def __init__(self, V, E, H, L):
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.rnn0 = nn.LSTM(E, H, num_layers=L)
        self.head = nn.Linear(H, V)


class Seq2SeqModel(nn.Module):
    def __init__(self, spec):
        super().__init__()
        s, t, r = spec["source"], spec["target"], spec["recurrent"]
        self.encoder = Encoder(s["vocabSize"], s["embeddingDim"], r["hiddenSize"], r["numLayers"])
        self.decoder = Decoder(t["vocabSize"], t["embeddingDim"], r["hiddenSize"], r["numLayers"])


def pad(seqs, value):
    T = max(len(s) for s in seqs)
    return torch.tensor([[s[t] if t < len(s) else value for s in seqs] for t in range(T)])  # [T, B]


def seq2seq_fixture(name, seed):
    torch.manual_seed(seed)
    spec = {"source": {"type": "tokens", "vocabSize": 6, "embeddingDim": 4},
            "target": {"vocabSize": 7, "embeddingDim": 3, "bosId": 1, "eosId": 2},
            "recurrent": {"cell": "lstm", "hiddenSize": 5, "numLayers": 2}}
    model = Seq2SeqModel(spec)
    sources = [[3, 1, 4, 1, 5], [0, 2], [5, 5, 3], [4]]
    targets = [[3, 4, 6], [5], [6, 6], [4, 3, 5, 6]]
    bos, eos = spec["target"]["bosId"], spec["target"]["eosId"]
    V = spec["target"]["vocabSize"]
    sd0 = {k: v.clone() for k, v in model.state_dict().items()}

    # Encoder: right-padded sources; each source's final (h, c) at its own length.
    src = pad(sources, 0)  # the pad id is never read: packing stops at each length
    src_len = torch.tensor([len(s) for s in sources])
    packed = nn.utils.rnn.pack_padded_sequence(model.encoder.embedding(src), src_len, enforce_sorted=False)
    _, (h, c) = model.encoder.rnn(packed)  # [L, B, H], in the original batch order
    # Decoder, teacher forcing: inputs [bos, y...], targets [y..., eos]; padding targets -1 (ignored).
    # The padded inputs (id 0) only feed steps whose outputs are all ignored, so they add nothing.
    dec_in = pad([[bos] + t for t in targets], 0)
    dec_out = pad([t + [eos] for t in targets], -1)
    y, _ = model.decoder.rnn0(model.decoder.embedding(dec_in), (h, c))
    logits = model.decoder.head(y)
    loss = F.cross_entropy(logits.reshape(-1, V), dec_out.reshape(-1), ignore_index=-1)
    loss.backward()
    grads = {k: f32(p.grad) for k, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["eps"],
                           foreach=False)
    opt.step()
    write(name, {
        "spec": spec,
        "sources": sources,
        "targets": targets,
        "shapes": {k: list(v.shape) for k, v in sd0.items()},
        "state_dict": {k: f32(v) for k, v in sd0.items()},
        "loss": float(loss.item()),
        "grads": grads,
        "adam": ADAM,
        "after_adam": {k: f32(v) for k, v in model.state_dict().items()},
    })


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    optimizer_fixtures()
    schedule_fixtures()
    for m in MODELS:
        model_fixture(*m)
    seq2seq_fixture("seq2seq_lstm", 31)


if __name__ == "__main__":
    main()
