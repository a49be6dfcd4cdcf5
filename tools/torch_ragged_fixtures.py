#!/usr/bin/env python3
"""PyTorch fixtures on padded (ragged) batches: pack_padded_sequence semantics
(test/torch-ragged.test.ts).

Regenerate with (PyTorch 1.13 from Debian: `apt-get install python3-torch`):

    /usr/bin/python3 tools/torch_ragged_fixtures.py

It writes test/fixtures/torch-ragged/*.json (committed: CI never needs
PyTorch). Deterministic: each fixture seeds torch.manual_seed and runs
single-threaded on the CPU. Weights and inputs are drawn in float32 (so our
float32 layers hold them exactly) and everything is then computed in float64,
and the results are written in shortest float32 form (rounded from the
float64 answer, 6e-8 relative).

Every batch is right-padded and the padding holds random values (random
features, random valid token ids): with
`pack_padded_sequence(x, lengths, enforce_sorted=False)` PyTorch never reads
them, and neither may we.

  layer_*.json  a stacked bidirectional nn.LSTM / nn.GRU on a packed batch
                with random h0 (c0); `output` is pad_packed_sequence's
                [T, B, 2H] (zeros past each length), hN (cN) [2L, B, H];
                the loss sum(dOutput*output) + sum(dhN*hN) (+ sum(dcN*cN))
                gives every weight gradient by name, dInput [T, B, I] (zero at
                padding), dh0 (dc0).
  model_*.json  a Sequential under our names (`embedding`, `rnn0`, `head`):
                embedding (tokens) or features -> packed bidirectional LSTM /
                GRU (2 layers) -> Linear head at every step (many-to-many) or
                at each sequence's step lengths[b]-1 (many-to-one, the
                `output[lengths - 1, arange(B)]` idiom). Loss: cross-entropy,
                mean over targets != -1; or MSE, mean over the real steps'
                values (many-to-many) / over [B, O] (many-to-one). The
                `*_final` ones have `readout: "final-states"` and read
                `torch.cat((h_n[-2], h_n[-1]), 1)` (checked against
                tools/to_torch.py's module too). Holds our
                SequentialSpec, the batch (time-major, with `lengths`, and
                `mask` for MSE many-to-many), the weights, the head's output
                [rows, O], the loss and every gradient by name.
  seq2seq_*.json  an attention Seq2Seq with a bidirectional encoder
                (tools/torch_attention_fixtures.py's model, here in float64):
                ragged sources (packed) and ragged targets; the loss and every
                gradient by name, and the attention weights.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_attention_fixtures as att  # noqa: E402  (the attention model, written in plain torch ops)
from torch_model_fixtures import dumps, f32  # noqa: E402  (shared output helpers)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch-ragged")

torch.set_num_threads(1)
RNN = {"lstm": nn.LSTM, "gru": nn.GRU}


def flat(t):
    """A tensor's values, flat, written in shortest float32 form (the inputs and weights are float32
    exactly; the float64 results are rounded to float32, 6e-8 relative, far below the 1e-5 checked)."""
    return f32(t.double())


def write(name, obj):
    obj = {"torch_version": torch.__version__, **obj}
    path = os.path.join(OUT_DIR, name + ".json")
    with open(path, "w") as f:
        f.write(dumps(obj) + "\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def rand32(*shape, lo=-1.0, hi=1.0):
    """Uniform float32 values, as float64 (exactly representable in our float32)."""
    return (torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo).double()


def padded(seqs, T, fill):
    """Time-major [T, B, ...] of sequences [L_b, ...], the padding from fill(shape)."""
    B = len(seqs)
    out = fill((T, B) + tuple(seqs[0].shape[1:]))
    for b, s in enumerate(seqs):
        out[: s.shape[0], b] = s
    return out


# ---- layers -------------------------------------------------------------------

# name, cell, I, H, L, lengths
LAYERS = [
    ("layer_lstm_2layer_bi", "lstm", 3, 4, 2, [5, 2, 4, 1]),
    ("layer_gru_2layer_bi", "gru", 4, 3, 2, [3, 6, 1, 6, 2]),
]


def layer_fixture(name, seed, cell, I, H, L, lengths):
    torch.manual_seed(seed)
    lstm = cell == "lstm"
    module = RNN[cell](I, H, num_layers=L, bidirectional=True)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(rand32(*p.shape, lo=-H ** -0.5, hi=H ** -0.5).float())
    module = module.double()
    B, T = len(lengths), max(lengths)
    seqs = [rand32(n, I) for n in lengths]
    x = padded(seqs, T, lambda s: rand32(*s, lo=-20, hi=20)).requires_grad_(True)
    h0 = rand32(2 * L, B, H).requires_grad_(True)
    c0 = rand32(2 * L, B, H).requires_grad_(True) if lstm else None
    d_output = rand32(T, B, 2 * H)
    d_hn = rand32(2 * L, B, H)
    d_cn = rand32(2 * L, B, H) if lstm else None
    packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out, state = module(packed, (h0, c0) if lstm else h0)
    output, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    if lstm:
        hn, cn = state
        torch.autograd.backward([output, hn, cn], [d_output, d_hn, d_cn])
    else:
        hn = state
        torch.autograd.backward([output, hn], [d_output, d_hn])
    params = list(module.named_parameters())
    obj = {
        "config": {"kind": cell, "inputSize": I, "hiddenSize": H, "numLayers": L, "bidirectional": True, "T": T, "B": B},
        "lengths": lengths,
        "state_dict": {n: flat(p) for n, p in params},
        "x": flat(x), "h0": flat(h0),
    }
    if lstm:
        obj["c0"] = flat(c0)
    obj.update({"dOutput": flat(d_output), "dhN": flat(d_hn)})
    if lstm:
        obj["dcN"] = flat(d_cn)
    obj.update({"output": flat(output), "hN": flat(hn)})
    if lstm:
        obj["cN"] = flat(cn)
    obj["grads"] = {n: flat(p.grad) for n, p in params}
    obj.update({"dInput": flat(x.grad), "dh0": flat(h0.grad)})
    if lstm:
        obj["dc0"] = flat(c0.grad)
    write(name, obj)


# ---- Sequential models ---------------------------------------------------------


class SeqModel(nn.Module):
    """Our Sequential with one recurrent block: embedding | rnn0 | head."""

    def __init__(self, spec):
        super().__init__()
        inp, r = spec["input"], spec["recurrent"][0]
        if inp["type"] == "tokens":
            self.embedding = nn.Embedding(inp["vocabSize"], inp["embeddingDim"])
            I = inp["embeddingDim"]
        else:
            self.embedding = None
            I = inp["size"]
        self.rnn0 = RNN[r["cell"]](I, r["hiddenSize"], num_layers=r["numLayers"], bidirectional=r["bidirectional"])
        self.head = nn.Linear(2 * r["hiddenSize"], spec["output"]["size"])
        self.mode = spec["mode"]
        self.readout = spec.get("readout", "last-step")

    def forward(self, x, lengths):
        if self.embedding is not None:
            x = self.embedding(x)
        T = x.shape[0]
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, state = self.rnn0(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=T)  # [T, B, 2H], zeros past each length
        if self.mode == "many-to-one" and self.readout == "final-states":
            h_n = state[0] if isinstance(state, tuple) else state  # [2L, B, H]
            return self.head(torch.cat((h_n[-2], h_n[-1]), 1))  # [B, O]: the top layer's two final states
        if self.mode == "many-to-one":
            return self.head(y[lengths - 1, torch.arange(y.shape[1])])  # [B, O]
        return self.head(y).reshape(-1, self.head.out_features)  # [T*B, O]


def spec_of(inp, cell, mode, loss, O, layers=2, readout=None):
    spec = {"input": inp, "recurrent": [{"cell": cell, "hiddenSize": 4, "numLayers": layers, "bidirectional": True}],
            "output": {"size": O, "loss": loss}, "mode": mode}
    if readout:
        spec["readout"] = readout
    return spec


# name, spec, lengths
MODELS = [
    ("model_tokens_lstm_bi_m2m", spec_of({"type": "tokens", "vocabSize": 7, "embeddingDim": 3}, "lstm", "many-to-many", "xent", 5), [4, 1, 6, 3]),
    ("model_tokens_gru_bi_m2o", spec_of({"type": "tokens", "vocabSize": 6, "embeddingDim": 4}, "gru", "many-to-one", "xent", 3), [2, 5, 5, 1, 3]),
    ("model_features_lstm_bi_m2o", spec_of({"type": "features", "size": 3}, "lstm", "many-to-one", "mse", 2), [3, 6, 2, 4]),
    ("model_features_gru_bi_m2m", spec_of({"type": "features", "size": 2}, "gru", "many-to-many", "mse", 3), [5, 2, 1, 4]),
    # readout "final-states": the classifier idiom torch.cat((h_n[-2], h_n[-1]), 1)
    ("model_tokens_gru_bi_m2o_final", spec_of({"type": "tokens", "vocabSize": 6, "embeddingDim": 3}, "gru", "many-to-one", "xent", 3,
                                              readout="final-states"), [3, 7, 1, 5, 2]),
    ("model_features_lstm_bi1_m2o_final", spec_of({"type": "features", "size": 3}, "lstm", "many-to-one", "mse", 2, layers=1,
                                                  readout="final-states"), [4, 1, 6, 2]),
]


def model_fixture(name, seed, spec, lengths):
    torch.manual_seed(seed)
    model = SeqModel(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(rand32(*p.shape, lo=-0.6, hi=0.6).float())
    model = model.double()
    B, T, O = len(lengths), max(lengths), spec["output"]["size"]
    inp, xent, m2m = spec["input"], spec["output"]["loss"] == "xent", spec["mode"] == "many-to-many"
    batch = {"T": T, "B": B, "lengths": lengths}
    lt = torch.tensor(lengths)
    if inp["type"] == "tokens":
        ids = torch.randint(0, inp["vocabSize"], (T, B))  # padding: random valid ids, never read
        x = ids
        batch["ids"] = [int(v) for v in ids.reshape(-1).tolist()]
    else:
        x = padded([rand32(n, inp["size"]) for n in lengths], T, lambda s: rand32(*s, lo=-20, hi=20))
        batch["features"] = flat(x)
    real = torch.arange(T)[:, None] < lt[None, :]  # [T, B]
    if xent:
        if m2m:
            tg = torch.randint(0, O, (T, B)).masked_fill(~real, -1)
        else:
            tg = torch.randint(0, O, (B,))
        batch["targets"] = [int(v) for v in tg.reshape(-1).tolist()]
    else:
        tg = rand32(T * B, O) if m2m else rand32(B, O)  # padding targets: random, masked out
        batch["targets"] = flat(tg)
        if m2m:
            batch["mask"] = [int(v) for v in real.reshape(-1).tolist()]
    sd0 = {k: flat(v) for k, v in model.state_dict().items()}
    y = model(x, lt)
    if xent:
        loss = F.cross_entropy(y, tg.reshape(-1), ignore_index=-1)
    elif m2m:
        keep = real.reshape(-1)
        loss = ((y - tg)[keep] ** 2).mean()
    else:
        loss = ((y - tg) ** 2).mean()
    loss.backward()
    if spec.get("readout"):
        # tools/to_torch.py's module (what a saved model becomes in PyTorch) reads the same rows
        import to_torch
        other = to_torch.UnfoldSequential(spec).double()
        other.load_state_dict(model.state_dict())
        assert torch.allclose(other(x, lt), y, rtol=0, atol=1e-12), "to_torch.UnfoldSequential reads another readout"
    write(name, {
        "spec": spec, "batch": batch, "state_dict": sd0, "output": flat(y), "loss": float(loss.item()),
        "grads": {n: flat(p.grad) for n, p in model.named_parameters()},
    })


# ---- Seq2Seq with attention and a bidirectional encoder --------------------------


def seq2seq_fixture(name, seed, cell, score, layers, feed):
    torch.manual_seed(seed)
    spec = {"source": {"type": "tokens", "vocabSize": 7, "embeddingDim": 4},
            "target": {"vocabSize": 8, "embeddingDim": 3, "bosId": 1, "eosId": 2},
            "recurrent": {"cell": cell, "hiddenSize": 4, "numLayers": layers, "bidirectional": True},
            "attention": score}
    if feed:
        spec["inputFeeding"] = True
    model = att.Model(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(rand32(*p.shape, lo=-0.7, hi=0.7).float())
    model = model.double()
    sources = [[3, 1, 4, 1, 5, 6, 2], [0, 2], [5], [4, 6, 3, 3]]
    targets = [[3, 4], [5, 6, 7, 0, 3], [], [4, 3, 6]]
    bos, eos, V, H = 1, 2, 8, 4
    sd0 = {k: flat(v) for k, v in model.state_dict().items()}
    S = max(len(s) for s in sources)
    src = torch.randint(0, 7, (S, len(sources)))  # padding: random ids, never read
    for b, s in enumerate(sources):
        src[: len(s), b] = torch.tensor(s)
    lengths = torch.tensor([len(s) for s in sources])
    packed = nn.utils.rnn.pack_padded_sequence(model.encoder.embedding(src), lengths, enforce_sorted=False)
    out, state = model.encoder.rnn(packed)
    enc, _ = nn.utils.rnn.pad_packed_sequence(out)  # [S, B, 2H]
    # The decoder starts from the sum of the two directions' final states, layer by layer.
    state = tuple(s[0::2] + s[1::2] for s in state) if cell == "lstm" else state[0::2] + state[1::2]
    dec_in = att.pad([[bos] + t for t in targets], 0)
    dec_out = att.pad([t + [eos] for t in targets], -1)
    emb = model.decoder.embedding(dec_in)
    if feed:
        fed = torch.zeros(emb.shape[1], H, dtype=torch.float64)
        hts, alphas = [], []
        for t in range(emb.shape[0]):
            h, state = model.decoder.rnn0(torch.cat([emb[t], fed], dim=-1).unsqueeze(0), state)
            ht_t, alpha_t = model.attention(h, enc, lengths)
            hts.append(ht_t)
            alphas.append(alpha_t)
            fed = ht_t[0]
        ht, alpha = torch.cat(hts, 0), torch.cat(alphas, 1)
    else:
        h, _ = model.decoder.rnn0(emb, state)
        ht, alpha = model.attention(h, enc, lengths)
    logits = model.decoder.head(ht)
    loss = F.cross_entropy(logits.reshape(-1, V), dec_out.reshape(-1), ignore_index=-1)
    loss.backward()
    write(name, {
        "spec": spec, "sources": sources, "targets": targets, "state_dict": sd0, "loss": float(loss.item()),
        "grads": {k: flat(p.grad) for k, p in model.named_parameters()},
        "alpha": [flat(alpha[b, : len(targets[b]) + 1, : len(sources[b])]) for b in range(len(sources))],
    })


def main():
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    for i, (name, *cfg) in enumerate(LAYERS):
        layer_fixture(name, 500 + i, *cfg)
    for i, (name, spec, lengths) in enumerate(MODELS):
        model_fixture(name, 600 + i, spec, lengths)
    seq2seq_fixture("seq2seq_lstm_general_bi_2layer", 700, "lstm", "general", 2, False)
    seq2seq_fixture("seq2seq_gru_additive_bi_feed", 701, "gru", "additive", 1, True)


if __name__ == "__main__":
    main()
