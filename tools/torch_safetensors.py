#!/usr/bin/env python3
"""safetensors fixtures for test/safetensors.test.ts: weights crossing between
PyTorch 1.13 and unfold-rnn in both directions. CI never needs PyTorch; the
files are committed. Regenerate (Debian: apt-get install python3-torch):

    /usr/bin/python3 tools/torch_safetensors.py            # 1. PyTorch -> unfold-rnn
    npm run build && node tools/safetensors_fixtures.mjs   # 2a. unfold-rnn trains and exports
    /usr/bin/python3 tools/torch_safetensors.py --ours     # 2b. PyTorch runs our exports

1. PyTorch -> unfold-rnn: two models are built with tools/to_torch.py's module
   (the names unfold-rnn uses), trained a few Adam steps in PyTorch, and saved
   as safetensors (spec in the metadata):
     torch_char_lstm   char-level LM on the start of corpus/sotu.txt:
                       Embedding -> 2-layer LSTM -> Linear, many-to-many;
     torch_gru_classifier  token classifier (which of three marker tokens is
                       most frequent), Embedding -> GRU -> Linear, many-to-one,
                       a padded batch of different lengths.
   Each <name>.json holds a fresh batch (time-major ids [T, B], lengths) and
   PyTorch's outputs on it (`output`, [T, B, O] or [B, O], flat).

2. unfold-rnn -> PyTorch: tools/safetensors_fixtures.mjs trains models here
   (three Sequential models and two Seq2Seq)
   and writes ours_<name>.safetensors and ours_<name>.input.json; --ours loads
   each file into the module tools/to_torch.py builds from the file's own
   metadata (strict load_state_dict) and writes PyTorch's outputs on that
   input to ours_<name>.torch.json. Then it keeps training ours_char_lstm in
   PyTorch for 20 steps, saves it with to_torch.save
   (continued_char_lstm.safetensors) and records PyTorch's outputs
   (continued_char_lstm.json), which unfold-rnn must reproduce.

Numbers are written as the shortest decimal that round-trips through float32.
"""
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from to_torch import build, load, read_safetensors, save, write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "safetensors")
torch.set_num_threads(1)


def f32list(t):
    return [float(np.float32(v)) for v in t.detach().reshape(-1).tolist()]


def dump(obj):
    """JSON with float32 numbers in shortest form, one key per line."""
    def enc(v):
        if isinstance(v, float):
            return str(np.float32(v))
        if isinstance(v, list):
            return "[" + ", ".join(enc(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {enc(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)
    return "{\n" + ",\n".join(f"  {json.dumps(k)}: {enc(v)}" for k, v in obj.items()) + "\n}\n"


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write(dump(obj))
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def save_model(name, model, spec, extra_meta=None):
    path = os.path.join(OUT, name + ".safetensors")
    meta = {"format": "pt", "unfold.kind": "Sequential", "unfold.spec": json.dumps(spec), "producer": f"torch {torch.__version__}"}
    meta.update(extra_meta or {})
    write_safetensors(path, model.state_dict(), meta)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def char_lstm():
    torch.manual_seed(1)
    with open(os.path.join(ROOT, "corpus", "sotu.txt"), encoding="utf-8") as f:
        text = f.read()[:3000]
    chars = sorted(set(text))
    idx = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([idx[c] for c in text])
    V = len(chars)
    spec = {"input": {"type": "tokens", "vocabSize": V, "embeddingDim": 8},
            "recurrent": [{"cell": "lstm", "hiddenSize": 16, "numLayers": 2}],
            "output": {"size": V, "loss": "xent"}, "mode": "many-to-many"}
    model = build(spec)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    T, B = 24, 8
    for step in range(30):
        starts = torch.randint(0, len(data) - T - 1, (B,))
        x = torch.stack([data[s:s + T] for s in starts], 1)  # [T, B]
        y = torch.stack([data[s + 1:s + T + 1] for s in starts], 1)
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"torch_char_lstm: loss after 30 steps {loss.item():.3f}")
    save_model("torch_char_lstm", model, spec, {"vocab": json.dumps(chars)})
    T, B = 12, 2
    starts = [100, 1700]
    x = torch.stack([data[s:s + T] for s in starts], 1)
    with torch.no_grad():
        out = model(x)
    write("torch_char_lstm.json", {"torch_version": torch.__version__, "T": T, "B": B, "ids": x.reshape(-1).tolist(),
                                   "lengths": [T] * B, "output": f32list(out)})


def gru_classifier():
    torch.manual_seed(2)
    V, C = 10, 3
    spec = {"input": {"type": "tokens", "vocabSize": V, "embeddingDim": 6},
            "recurrent": [{"cell": "gru", "hiddenSize": 12}],
            "output": {"size": C, "loss": "xent"}, "mode": "many-to-one"}
    model = build(spec)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    g = torch.Generator().manual_seed(3)

    def batch(B, T):
        lengths = torch.randint(3, T + 1, (B,), generator=g)
        lengths[0] = T
        x = torch.randint(C, V, (T, B), generator=g)  # filler tokens 3..9
        marks = torch.randint(0, C, (T, B), generator=g)
        use = torch.rand(T, B, generator=g) < 0.4
        x = torch.where(use, marks, x)
        for b in range(B):
            x[lengths[b]:, b] = -1  # padding
        counts = torch.stack([((x == c) & (x >= 0)).sum(0) for c in range(C)], 1)  # [B, C]
        return x, lengths, counts.argmax(1)

    for step in range(40):
        x, lengths, y = batch(16, 10)
        loss = F.cross_entropy(model(x, lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"torch_gru_classifier: loss after 40 steps {loss.item():.3f}")
    save_model("torch_gru_classifier", model, spec)
    x, lengths, _ = batch(5, 9)
    with torch.no_grad():
        out = model(x, lengths)
    write("torch_gru_classifier.json", {"torch_version": torch.__version__, "T": 9, "B": 5, "ids": x.reshape(-1).tolist(),
                                        "lengths": lengths.tolist(), "output": f32list(out)})


def ours():
    """PyTorch's outputs for the models unfold-rnn trained and exported (tools/safetensors_fixtures.mjs)."""
    files = sorted(glob.glob(os.path.join(OUT, "ours_*.safetensors")))
    if not files:
        sys.exit("no ours_*.safetensors: run `node tools/safetensors_fixtures.mjs` first")
    for path in files:
        name = os.path.basename(path)[: -len(".safetensors")]
        model, spec = load(path)  # the module from the file's own spec; strict names and shapes
        model.eval()
        with open(os.path.join(OUT, name + ".input.json")) as f:
            inp = json.load(f)
        T, B = inp["T"], inp["B"]
        if "source" in spec:  # Seq2Seq: teacher-forced decoder logits [T, B, V]
            write(name + ".torch.json", {"torch_version": torch.__version__, "output": f32list(seq2seq_logits(model, spec, inp))})
            continue
        lengths = torch.tensor(inp["lengths"])
        if spec["input"]["type"] == "tokens":
            x = torch.tensor(inp["ids"]).reshape(T, B)
        else:
            x = torch.tensor(inp["features"], dtype=torch.float32).reshape(T, B, spec["input"]["size"])
        with torch.no_grad():
            out = model(x, lengths)
        write(name + ".torch.json", {"torch_version": torch.__version__, "output": f32list(out)})
    continued()


def seq2seq_logits(model, spec, inp):
    srcs, T, B = inp["sources"], inp["T"], inp["B"]
    tokens = torch.tensor(inp["tokens"]).reshape(T, B)
    with torch.no_grad():
        if spec["source"]["type"] == "tokens":
            S = max(len(s) for s in srcs)
            x = torch.full((S, B), -1, dtype=torch.long)
            for b, s in enumerate(srcs):
                x[:len(s), b] = torch.tensor(s)
            return model(x, torch.tensor([len(s) for s in srcs]), tokens)
        return model(torch.tensor(srcs, dtype=torch.float32), None, tokens)


def continued():
    """Keep training our char LSTM in PyTorch (what a user with many GPUs does), save it with
    to_torch.save, and record PyTorch's outputs: unfold-rnn must load it back and agree."""
    torch.manual_seed(4)
    path = os.path.join(OUT, "ours_char_lstm.safetensors")
    model, spec = load(path)
    chars = json.loads(read_safetensors(path)[1]["vocab"])  # the vocabulary unfold-rnn trained with
    with open(os.path.join(ROOT, "corpus", "sotu.txt"), encoding="utf-8") as f:
        text = f.read()[:4000]
    data = torch.tensor([chars.index(c) for c in text])
    V = len(chars)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    T, B = 16, 8
    for step in range(20):
        starts = torch.randint(0, len(data) - T - 1, (B,))
        x = torch.stack([data[s:s + T] for s in starts], 1)
        y = torch.stack([data[s + 1:s + T + 1] for s in starts], 1)
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"ours_char_lstm continued in torch: loss after 20 steps {loss.item():.3f}")
    path = os.path.join(OUT, "continued_char_lstm.safetensors")
    save(model, spec, path)  # to_torch.save: what a user runs after training in PyTorch
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")
    T, B = 10, 2
    x = torch.stack([data[s:s + T] for s in (50, 2500)], 1)
    with torch.no_grad():
        out = model(x)
    write("continued_char_lstm.json", {"torch_version": torch.__version__, "T": T, "B": B, "ids": x.reshape(-1).tolist(),
                                       "lengths": [T] * B, "output": f32list(out)})


def main():
    os.makedirs(OUT, exist_ok=True)
    if "--ours" in sys.argv:
        ours()
        return
    char_lstm()
    gru_classifier()


if __name__ == "__main__":
    main()
