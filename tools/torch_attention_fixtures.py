#!/usr/bin/env python3
"""PyTorch fixtures for Seq2Seq with attention (test/attention.test.ts, tier 3).

Regenerate with (PyTorch 1.13 from Debian: `apt-get install python3-torch`):

    /usr/bin/python3 tools/torch_attention_fixtures.py

It writes test/fixtures/torch-attention/*.json (committed: CI never needs
PyTorch). Deterministic: every fixture seeds torch.manual_seed, runs
single-threaded in float32, and writes each number in shortest float32 form
(the helpers of tools/torch_model_fixtures.py).

PyTorch 1.13 has no Luong attention module, so the attention is written here
in plain torch ops, independently of our code:

  encoder   embedding + nn.LSTM / nn.GRU over right-padded sources, packed
            (pack_padded_sequence): padding enters neither direction; outputs
            enc [S, B, D*H]; the decoder's initial state is the final state of
            each layer (bidirectional: forward + reverse, layer by layer).
  decoder   embedding + nn.LSTM / nn.GRU under teacher forcing: inputs
            [bos, y...], targets [y..., eos] (padding -1, ignored); h [T, B, H].
  input     with inputFeeding, step by step: the decoder's input at step t is
  feeding   [embedding of y_{t-1}; h~_{t-1}] (h~_{-1} = 0).
  attention scores of every (t, s): dot h.e, general h.(W_a e),
            additive v.tanh(W_q h + W_k e); source steps s >= length set to
            -inf before the softmax; context c = sum_s alpha_s e_s;
            h~ = tanh(W_c [c; h]); logits = head(h~).
  loss      cross-entropy, mean over real targets.

Each file holds our Seq2SeqSpec, the data, the weights under our names
(encoder.embedding.*, encoder.rnn.*, decoder.embedding.*, decoder.rnn0.*,
decoder.head.*, attention.*), the loss, every gradient, and the attention
weights alpha [B, T, S].
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_model_fixtures import dumps, f32  # noqa: E402  (shared output helpers)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch-attention")

torch.set_num_threads(1)
torch.set_default_dtype(torch.float32)

RNN = {"lstm": nn.LSTM, "gru": nn.GRU}


class Attention(nn.Module):
    def __init__(self, score, H, DE):
        super().__init__()
        self.kind = score
        if score == "general":
            self.score = nn.Linear(DE, H, bias=False)  # W_a [H, DE]
        if score == "additive":
            self.query = nn.Linear(H, H, bias=False)  # W_q [A, H], A = H
            self.key = nn.Linear(DE, H, bias=False)  # W_k [A, DE]
            self.energy = nn.Linear(H, 1, bias=False)  # v [1, A]
        self.combine = nn.Linear(DE + H, H, bias=False)  # W_c [H, DE + H]

    def forward(self, h, enc, lengths):
        """h [T, B, H], enc [S, B, DE], lengths [B] -> h~ [T, B, H], alpha [B, T, S]."""
        q = h.transpose(0, 1)  # [B, T, H]
        e = enc.transpose(0, 1)  # [B, S, DE]
        if self.kind == "dot":
            scores = torch.bmm(q, e.transpose(1, 2))
        elif self.kind == "general":
            scores = torch.bmm(q, self.score(e).transpose(1, 2))
        else:
            z = self.query(q).unsqueeze(2) + self.key(e).unsqueeze(1)  # [B, T, S, A]
            scores = self.energy(torch.tanh(z)).squeeze(-1)
        S = e.shape[1]
        pad = torch.arange(S)[None, :] >= lengths[:, None]  # [B, S]
        scores = scores.masked_fill(pad[:, None, :], float("-inf"))
        alpha = torch.softmax(scores, dim=-1)  # [B, T, S]
        ctx = torch.bmm(alpha, e)  # [B, T, DE]
        ht = torch.tanh(self.combine(torch.cat([ctx, q], dim=-1)))
        return ht.transpose(0, 1), alpha


class Model(nn.Module):
    def __init__(self, spec):
        super().__init__()
        r = spec["recurrent"]
        H, L, bi = r["hiddenSize"], r.get("numLayers", 1), r.get("bidirectional", False)
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(spec["source"]["vocabSize"], spec["source"]["embeddingDim"])
        self.encoder.rnn = RNN[r["cell"]](spec["source"]["embeddingDim"], H, L, bidirectional=bi)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(spec["target"]["vocabSize"], spec["target"]["embeddingDim"])
        self.feed = spec.get("inputFeeding", False)
        self.decoder.rnn0 = RNN[r["cell"]](spec["target"]["embeddingDim"] + (H if self.feed else 0), H, L)
        self.decoder.head = nn.Linear(H, spec["target"]["vocabSize"])
        self.attention = Attention(spec["attention"], H, (2 if bi else 1) * H)
        self.bi = bi
        self.cell = r["cell"]


def pad(seqs, value):
    T = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (T - len(s)) for s in seqs]).t().contiguous()  # [T, B]


def fixture(name, seed, cell, score, bi, layers, feed=False):
    torch.manual_seed(seed)
    spec = {"source": {"type": "tokens", "vocabSize": 7, "embeddingDim": 4},
            "target": {"vocabSize": 8, "embeddingDim": 3, "bosId": 1, "eosId": 2},
            "recurrent": {"cell": cell, "hiddenSize": 5, "numLayers": layers, "bidirectional": bi},
            "attention": score}
    if feed:
        spec["inputFeeding"] = True
    model = Model(spec)
    sources = [[3, 1, 4, 1, 5, 6], [0, 2], [5, 5, 3], [4]]
    targets = [[3, 4, 6], [5], [6, 7, 0, 6], [4, 3]]
    bos, eos, V = spec["target"]["bosId"], spec["target"]["eosId"], spec["target"]["vocabSize"]
    sd0 = {k: v.clone() for k, v in model.state_dict().items()}

    src = pad(sources, 0)  # the pad id is never read: packing stops at each length
    lengths = torch.tensor([len(s) for s in sources])
    packed = nn.utils.rnn.pack_padded_sequence(model.encoder.embedding(src), lengths, enforce_sorted=False)
    out, state = model.encoder.rnn(packed)
    enc, _ = nn.utils.rnn.pad_packed_sequence(out)  # [S, B, D*H], zeros at padding
    if model.bi:  # [2L, B, H] -> [L, B, H]: forward + reverse of each layer
        state = tuple(s[0::2] + s[1::2] for s in state) if model.cell == "lstm" else state[0::2] + state[1::2]
    dec_in = pad([[bos] + t for t in targets], 0)
    dec_out = pad([t + [eos] for t in targets], -1)
    emb = model.decoder.embedding(dec_in)  # [T, B, E]
    if model.feed:
        fed = torch.zeros(emb.shape[1], spec["recurrent"]["hiddenSize"])
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
    obj = {
        "torch_version": torch.__version__,
        "spec": spec,
        "sources": sources,
        "targets": targets,
        "shapes": {k: list(v.shape) for k, v in sd0.items()},
        "state_dict": {k: f32(v) for k, v in sd0.items()},
        "loss": float(loss.item()),
        "grads": {k: f32(p.grad) for k, p in model.named_parameters()},
        "alpha": [f32(alpha[b, : len(targets[b]) + 1, : len(sources[b])]) for b in range(len(sources))],
    }
    path = os.path.join(OUT_DIR, name + ".json")
    with open(path, "w") as f:
        f.write(dumps(obj) + "\n")
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    fixture("lstm_dot", 41, "lstm", "dot", False, 1)
    fixture("lstm_general_bi_2layer", 42, "lstm", "general", True, 2)
    fixture("gru_additive_bi", 43, "gru", "additive", True, 1)
    fixture("lstm_additive_2layer", 44, "lstm", "additive", False, 2)
    fixture("gru_general", 45, "gru", "general", False, 1)
    fixture("lstm_general_bi_2layer_feed", 46, "lstm", "general", True, 2, feed=True)
    fixture("gru_additive_feed", 47, "gru", "additive", False, 1, feed=True)


if __name__ == "__main__":
    main()
