#!/usr/bin/env python3
"""Build the PyTorch module for an unfold-rnn Sequential (or Seq2Seq) model and load its weights,
so a model trained in JavaScript can keep training in PyTorch (one GPU, or many
machines with DistributedDataParallel) and come back.

    /usr/bin/python3 tools/to_torch.py model.safetensors            # print the module and check it loads
    /usr/bin/python3 tools/to_torch.py model.safetensors --save model.pt   # torch.save(state_dict)
    /usr/bin/python3 tools/to_torch.py weights.safetensors --spec spec.json  # spec from model.toJSON()

In Python:

    import sys; sys.path.insert(0, "tools")
    from to_torch import load, save
    model, spec = load("model.safetensors")    # an nn.Module, weights loaded strictly
    ...train...                               # DDP: wrap it; save model.module
    save(model, spec, "trained.safetensors")   # loadSafetensors(...) / modelFromSafetensors(...) in JS

The file is written in JavaScript by `saveSafetensors(model)` (or
`saveSafetensorsFile` from "unfold-rnn/node"); its metadata carries the
model's spec (`unfold.spec`). The module's parameter names are the state-dict
names unfold-rnn uses (embedding.weight, rnn0.weight_ih_l0, ..., head.bias).

Semantics (as unfold-rnn's Sequential): inputs are time-major — token ids
[T, B] (long) or features [T, B, F] — and `lengths` [B] gives each sequence's
real length. With `lengths`, every recurrent block runs on
`pack_padded_sequence(x, lengths, enforce_sorted=False)`: each sequence as if
alone (the reverse direction starts at its own last real step), outputs past
a length are zero, final states are those of each sequence's own last step,
and padding (ids, features) is never read. Many-to-many returns [T, B, O]
(logits for 'xent', values for 'mse'); many-to-one returns the head applied
to each sequence's top-layer output at its step lengths[b]-1, [B, O]
(`out[lengths - 1, arange(B)]` after pad_packed_sequence; for a bidirectional
top block that is the forward direction's final state and the reverse
direction's first step, as unfold-rnn's Sequential and its ONNX export read;
with the spec's `readout: "final-states"` it is both directions' final states,
`torch.cat((h_n[-2], h_n[-1]), 1)` of the top block).

`load` keeps the file's metadata on the module (`module.unfold_metadata`) and
`save` writes it back (a vocabulary saved from JavaScript survives training
here), with the spec. A file saved from a DistributedDataParallel wrapper
(names 'module.…') loads with `load(path, strip_prefix="module.")`; `save`
unwraps such a wrapper itself.

safetensors is read and written here directly (an 8-byte little-endian header
length, a JSON header, raw little-endian tensors), so the `safetensors`
package is not needed (Debian 12 does not ship it).
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

# ---- safetensors ---------------------------------------------------------------

_DTYPES = {"F32": (np.float32, torch.float32), "F64": (np.float64, torch.float64), "F16": (np.float16, torch.float16),
           "I64": (np.int64, torch.int64), "I32": (np.int32, torch.int32), "U8": (np.uint8, torch.uint8)}
_NAMES = {v[1]: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """(tensors: dict name -> torch.Tensor, metadata: dict) from a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    body = data[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {e['dtype']}")
        begin, end = e["data_offsets"]
        arr = np.frombuffer(body[begin:end], dtype=np.dtype(_DTYPES[e["dtype"]][0]).newbyteorder("<"))
        tensors[name] = torch.from_numpy(arr.copy().reshape(e["shape"]))
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    """Write a dict name -> tensor (contiguous, little-endian) as safetensors."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)  # pad so the tensors start 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- the module ------------------------------------------------------------------


def make_rnn(r, input_size):
    """The torch.nn recurrent layer of one RecurrentSpec (time-major, like unfold-rnn)."""
    kw = dict(num_layers=r.get("numLayers", 1), bidirectional=r.get("bidirectional", False), dropout=r.get("dropout", 0.0))
    H = r["hiddenSize"]
    cell = r["cell"]
    if cell == "lstm":
        return nn.LSTM(input_size, H, **kw)
    if cell == "gru":
        return nn.GRU(input_size, H, **kw)
    if cell in ("rnn", "rnn_relu"):
        return nn.RNN(input_size, H, nonlinearity="relu" if cell == "rnn_relu" else "tanh", **kw)
    raise ValueError(f"unknown cell {cell!r} (lstm, gru, rnn, rnn_relu)")


class UnfoldSequential(nn.Module):
    """Embedding (token input) -> rnn0, rnn1, ... -> head (Linear), as unfold-rnn's Sequential."""

    def __init__(self, spec):
        super().__init__()
        known = {"input", "recurrent", "output", "mode", "readout", "seed"}
        extra = set(spec) - known
        if extra:
            raise ValueError(f"spec fields this script does not know: {sorted(extra)}")
        self.spec = spec
        inp = spec["input"]
        if inp["type"] == "tokens":
            self.embedding = nn.Embedding(inp["vocabSize"], inp["embeddingDim"])
            size = inp["embeddingDim"]
        else:
            self.embedding = None
            size = inp["size"]
        self.rnns = []
        for k, r in enumerate(spec["recurrent"]):
            layer = make_rnn(r, size)
            setattr(self, f"rnn{k}", layer)  # registered under unfold-rnn's name
            self.rnns.append(layer)
            size = r["hiddenSize"] * (2 if r.get("bidirectional", False) else 1)
        self.head = nn.Linear(size, spec["output"]["size"])
        self.many_to_one = spec["mode"] == "many-to-one"
        readout = spec.get("readout", "last-step")
        if readout not in ("last-step", "final-states"):
            raise ValueError(f"unknown readout {readout!r} (last-step, final-states)")
        top = spec["recurrent"][-1]
        # final-states on a bidirectional top block: the reverse half comes from step 0
        self.reverse_from_first = readout == "final-states" and top.get("bidirectional", False)
        self.top_hidden = top["hiddenSize"]

    def forward(self, x, lengths=None, state=None, return_state=False):
        """x: ids [T, B] (long) or features [T, B, F]; lengths [B] (default all T): packed sequences.
        state: the first recurrent block's initial state (h0, or (h0, c0) for LSTM), [L*D, B, H];
        return_state: also return the first block's final state (at each sequence's last real step)."""
        T, B = x.shape[0], x.shape[1]
        if self.embedding is not None:
            x = self.embedding(x.clamp(min=0))  # padding ids (negative) are never read when packed
        final = None
        for k, rnn in enumerate(self.rnns):
            h0 = state if k == 0 else None
            if lengths is not None:
                packed = nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(lengths).cpu(), enforce_sorted=False)
                y, st = rnn(packed, h0)
                x, _ = nn.utils.rnn.pad_packed_sequence(y, total_length=T)  # [T, B, D*H], zeros past each length
            else:
                x, st = rnn(x, h0)
            if k == 0:
                final = st
        if self.many_to_one:
            last = (torch.as_tensor(lengths) if lengths is not None else torch.full((B,), T)).long() - 1
            y_top = x
            x = y_top[last, torch.arange(B)]  # [B, D*H]: each sequence's last real step (both directions)
            if self.reverse_from_first:
                # readout "final-states": torch.cat((h_n[-2], h_n[-1]), 1) of the top block, i.e. the
                # forward half at step lengths[b]-1 and the reverse half at step 0, where it ends
                H = self.top_hidden
                x = torch.cat((x[:, :H], y_top[0, :, H:]), 1)
        y = self.head(x)
        return (y, final) if return_state else y


class _Encoder(nn.Module):
    def __init__(self, spec):
        super().__init__()
        src, r = spec["source"], spec["recurrent"]
        self.embedding = nn.Embedding(src["vocabSize"], src["embeddingDim"])
        self.rnn = make_rnn({**r, "bidirectional": bool(spec.get("attention")) and r.get("bidirectional", False)}, src["embeddingDim"])


class Attention(nn.Module):
    """unfold-rnn's attention block (src/layers/attention.ts): Luong dot / general, Bahdanau additive
    scores, a softmax masked by each source's length, the context, h~ = tanh(W_c [c; h])."""

    def __init__(self, score, H, DE):
        super().__init__()
        self.kind = score
        if score == "general":
            self.score = nn.Linear(DE, H, bias=False)  # W_a [H, DE]
        elif score == "additive":
            self.query = nn.Linear(H, H, bias=False)  # W_q [A, H], A = H
            self.key = nn.Linear(DE, H, bias=False)  # W_k [A, DE]
            self.energy = nn.Linear(H, 1, bias=False)  # v [1, A]
        elif score != "dot":
            raise ValueError(f"unknown attention {score!r} (dot, general, additive)")
        self.combine = nn.Linear(DE + H, H, bias=False)  # W_c [H, DE + H]

    def forward(self, h, enc, lengths):
        """h [T, B, H], enc [S, B, DE], lengths [B] -> h~ [T, B, H], weights [B, T, S]."""
        q, e = h.transpose(0, 1), enc.transpose(0, 1)  # [B, T, H], [B, S, DE]
        if self.kind == "dot":
            scores = torch.bmm(q, e.transpose(1, 2))
        elif self.kind == "general":
            scores = torch.bmm(q, self.score(e).transpose(1, 2))
        else:
            scores = self.energy(torch.tanh(self.query(q).unsqueeze(2) + self.key(e).unsqueeze(1))).squeeze(-1)
        pad = torch.arange(e.shape[1])[None, :] >= torch.as_tensor(lengths)[:, None]  # [B, S]
        alpha = torch.softmax(scores.masked_fill(pad[:, None, :], float("-inf")), dim=-1)
        ht = torch.tanh(self.combine(torch.cat([torch.bmm(alpha, e), q], dim=-1)))
        return ht.transpose(0, 1), alpha


class UnfoldSeq2Seq(nn.Module):
    """unfold-rnn's Seq2Seq: an encoder (tokens: encoder.embedding + encoder.rnn, packed; or a vector:
    h0 = tanh(bridge(v)), c0 = 0) whose final state starts the decoder (a many-to-many token
    Sequential named decoder.*). With `attention`, every decoder step also attends over the
    encoder outputs (Attention, named attention.*; the encoder may be bidirectional), and with
    `inputFeeding` the decoder's input is [embedding; h~ of the last step]."""

    def __init__(self, spec):
        super().__init__()
        known = {"source", "target", "recurrent", "attention", "inputFeeding", "seed"}
        extra = set(spec) - known
        if extra:
            raise ValueError(f"spec fields this script does not know: {sorted(extra)}")
        self.spec = spec
        r = {**spec["recurrent"], "bidirectional": False}
        self.L, self.H, self.lstm = r.get("numLayers", 1), r["hiddenSize"], r["cell"] == "lstm"
        self.bi = spec["recurrent"].get("bidirectional", False) and bool(spec.get("attention"))
        self.feed = bool(spec.get("inputFeeding"))
        if spec["source"]["type"] == "tokens":
            self.encoder = _Encoder(spec)
            self.bridge = None
        else:
            self.encoder = None
            self.bridge = nn.Linear(spec["source"]["size"], self.L * self.H)
        t = spec["target"]
        if spec.get("attention"):
            # decoder.embedding, decoder.rnn0 (reads [embedding; h~] with input feeding), decoder.head; attention.*
            self.decoder = nn.Module()
            self.decoder.embedding = nn.Embedding(t["vocabSize"], t["embeddingDim"])
            self.decoder.rnn0 = make_rnn(r, t["embeddingDim"] + (self.H if self.feed else 0))
            self.decoder.head = nn.Linear(self.H, t["vocabSize"])
            self.attention = Attention(spec["attention"], self.H, (2 if self.bi else 1) * self.H)
        else:
            self.attention = None
            self.decoder = UnfoldSequential({"input": {"type": "tokens", "vocabSize": t["vocabSize"], "embeddingDim": t["embeddingDim"]},
                                             "recurrent": [r], "output": {"size": t["vocabSize"], "loss": "xent"}, "mode": "many-to-many"})

    def encode(self, source, source_lengths=None, return_outputs=False):
        """The decoder's initial state from source ids [S, B] (+ lengths [B]) or vectors [B, F];
        return_outputs: also the encoder outputs [S, B, D*H] (zeros past each length), for attention.
        A bidirectional encoder hands the decoder the sum of its two directions' final states per layer."""
        if self.bridge is not None:
            h = torch.tanh(self.bridge(source)).reshape(-1, self.L, self.H).transpose(0, 1).contiguous()  # [L, B, H]
            return (h, torch.zeros_like(h)) if self.lstm else h
        S = source.shape[0]
        x = self.encoder.embedding(source.clamp(min=0))
        if source_lengths is not None:  # each source as if alone: final states at its own length
            x = nn.utils.rnn.pack_padded_sequence(x, torch.as_tensor(source_lengths).cpu(), enforce_sorted=False)
        out, state = self.encoder.rnn(x)
        if source_lengths is not None:
            out, _ = nn.utils.rnn.pad_packed_sequence(out, total_length=S)
        if self.bi:
            state = tuple(s[0::2] + s[1::2] for s in state) if self.lstm else state[0::2] + state[1::2]
        return (state, out) if return_outputs else state

    def forward(self, source, source_lengths, tokens):
        """Teacher forcing: decoder logits [T, B, V] for decoder inputs tokens [T, B] ([bos, y...]).
        With attention, the weights of every step are kept in self.last_weights [B, T, S]."""
        if self.attention is None:
            return self.decoder(tokens, state=self.encode(source, source_lengths))
        B = source.shape[1]
        if source_lengths is None:
            source_lengths = torch.full((B,), source.shape[0])
        state, enc = self.encode(source, source_lengths, return_outputs=True)
        emb = self.decoder.embedding(tokens.clamp(min=0))  # [T, B, E]
        if self.feed:  # step by step: each step reads the last one's h~
            fed = emb.new_zeros(B, self.H)
            hts, weights = [], []
            for t in range(emb.shape[0]):
                h, state = self.decoder.rnn0(torch.cat([emb[t], fed], dim=-1).unsqueeze(0), state)
                ht, w = self.attention(h, enc, source_lengths)
                hts.append(ht)
                weights.append(w)
                fed = ht[0]
            ht, self.last_weights = torch.cat(hts, 0), torch.cat(weights, 1)
        else:
            h, _ = self.decoder.rnn0(emb, state)
            ht, self.last_weights = self.attention(h, enc, source_lengths)
        return self.decoder.head(ht)


def build(spec):
    """The module for a spec (model.toJSON()): UnfoldSequential, or UnfoldSeq2Seq for a Seq2Seq spec."""
    return UnfoldSeq2Seq(spec) if "source" in spec else UnfoldSequential(spec)


def _prefix_hint(names, expected):
    """The dotted prefix whose removal makes every name an expected one (DDP's 'module.'), or None."""
    first = next(iter(names), "")
    i = first.find(".")
    while i > 0:
        p = first[: i + 1]
        if all(n.startswith(p) and n[len(p):] in expected for n in names):
            return p
        i = first.find(".", i + 1)
    return None


def load(path, spec=None, strip_prefix=None):
    """(module, spec): the module for the file's spec (or `spec`), weights loaded with strict names and shapes.
    The file's metadata is kept on the module as `unfold_metadata` (save() writes it back).
    strip_prefix: remove it from every name first (e.g. "module." for a DistributedDataParallel state dict)."""
    tensors, meta = read_safetensors(path)
    if spec is None:
        if "unfold.spec" not in meta:
            raise ValueError(f"{path} has no unfold.spec metadata; pass the spec (model.toJSON()) explicitly")
        spec = json.loads(meta["unfold.spec"])
    model = build(spec)
    if strip_prefix:
        tensors = {(k[len(strip_prefix):] if k.startswith(strip_prefix) else k): v for k, v in tensors.items()}
    expected = set(model.state_dict().keys())
    if set(tensors) != expected:
        p = _prefix_hint(list(tensors), expected)
        if p is not None:
            raise ValueError(f"{path}: the tensor names carry the prefix {p!r} (a wrapper such as DistributedDataParallel); pass strip_prefix={p!r}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()}, strict=True)
    model.unfold_metadata = dict(meta)
    return model, spec


def save(model, spec, path, metadata=None):
    """Write the module's weights as safetensors that unfold-rnn loads. Unwraps DataParallel /
    DistributedDataParallel (model.module). The metadata is the loaded file's (`unfold_metadata`,
    e.g. the vocabulary written in JavaScript), then `metadata`, then the spec (format, kind, spec)."""
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    sd = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
    kind = "Seq2Seq" if "source" in spec else "Sequential"
    meta = dict(getattr(model, "unfold_metadata", None) or {})
    meta.update(metadata or {})
    meta.update({"format": "pt", "unfold.kind": kind, "unfold.spec": json.dumps(spec, separators=(",", ":"))})  # as JSON.stringify
    write_safetensors(path, sd, meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", help="a .safetensors file written by unfold-rnn (saveSafetensors)")
    ap.add_argument("--spec", help="the model's spec as JSON (model.toJSON()), if the file has no unfold.spec metadata")
    ap.add_argument("--save", help="also torch.save the state dict to this path")
    a = ap.parse_args()
    spec = None
    if a.spec:
        with open(a.spec) as f:
            spec = json.load(f)
    model, spec = load(a.weights, spec)
    print(model)
    print(f"{sum(p.numel() for p in model.parameters())} parameters loaded from {a.weights}")
    if a.save:
        torch.save(model.state_dict(), a.save)
        print(f"saved the state dict to {a.save}")


if __name__ == "__main__":
    sys.exit(main())
