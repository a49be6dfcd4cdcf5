#!/usr/bin/env python3
"""Padded bidirectional models crossing unfold-rnn -> PyTorch 1.13 -> unfold-rnn (issue 15), step 2 of 2
(step 1: `npm run build && node tools/ragged_exchange_fixtures.mjs`). CI never needs PyTorch; the
files in test/fixtures/safetensors/ are committed. Regenerate:

    node tools/ragged_exchange_fixtures.mjs && /usr/bin/python3 tools/torch_ragged_exchange.py

1. For each ours_ragged_<name>.safetensors (trained in JavaScript, the vocabulary in its metadata):
   to_torch.load builds the module from the file's spec; it runs the ragged batch of
   ours_ragged_<name>.input.json with lengths (pack_padded_sequence, enforce_sorted=False) and
   writes PyTorch's outputs to ours_ragged_<name>.torch.json. The script checks first that each
   sequence's output in the batch is its output alone (packing, not padding, decides).
2. torch_continued_bigru_words: the word classifier trained on in PyTorch (20 Adam steps on ragged,
   packed batches of words from corpus/sotu.txt, encoded with the vocabulary from the file) and saved
   with to_torch.save, which keeps the file's metadata (the vocabulary) and the spec.
   ours_ragged_seq2seq_attention (an attention Seq2Seq, bidirectional encoder, input feeding):
   teacher-forced decoder logits and attention weights on ragged sources.
3. torch_ddp_bilstm_tagger: the tagger trained in a DistributedDataParallel wrapper (gloo, one
   process) and saved the way a user who does not unwrap it does: its state dict, 'module.' names.
Each of 2 and 3 has a .json with a ragged batch and PyTorch's outputs on it.
"""
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from to_torch import load, read_safetensors, save, write_safetensors  # noqa: E402
from torch_safetensors import dump, f32list  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "safetensors")
torch.set_num_threads(1)


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write(dump(obj))
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def batch_of(inp):
    T, B = inp["T"], inp["B"]
    return torch.tensor(inp["ids"]).reshape(T, B), torch.tensor(inp["lengths"])


def check_alone(model, spec, x, lengths):
    """Each sequence's output inside the ragged batch equals its output alone (to 1e-6)."""
    with torch.no_grad():
        y = model(x, lengths)
        for b in range(x.shape[1]):
            L = int(lengths[b])
            alone = model(x[:L, b:b + 1], lengths[b:b + 1])
            inside = y[:L, b:b + 1] if spec["mode"] == "many-to-many" else y[b:b + 1]
            err = (alone - inside).abs().max().item()
            assert err < 1e-6, f"sequence {b}: batch vs alone differ by {err}"
    return y


def words_and_vocab(meta):
    chars = json.loads(meta["vocab"])  # the vocabulary unfold-rnn trained with
    with open(os.path.join(ROOT, "corpus", "sotu.txt"), encoding="utf-8") as f:
        text = f.read()[:20000]
    words = [w for w in text.split() if 2 <= len(w) <= 12]
    return chars, words, text


def ragged(seqs, V, g):
    """Time-major ids [T, B] (random ids as padding) and lengths [B] of token lists."""
    T = max(len(s) for s in seqs)
    x = torch.randint(0, V, (T, len(seqs)), generator=g)
    for b, s in enumerate(seqs):
        x[:len(s), b] = torch.tensor(s)
    return x, torch.tensor([len(s) for s in seqs])


def word_class(w):
    return 0 if w[0].isupper() else 1 if w[-1] in ".,;:!?" else 2


def seq2seq(name):
    """Teacher-forced decoder logits [T, B, V] on ragged sources; each source alone gives the same."""
    model, spec = load(os.path.join(OUT, name + ".safetensors"))
    model.eval()
    with open(os.path.join(OUT, name + ".input.json")) as f:
        inp = json.load(f)
    S, T, B = inp["S"], inp["T"], inp["B"]
    src, lengths = torch.tensor(inp["source"]).reshape(S, B), torch.tensor(inp["source_lengths"])
    tokens = torch.tensor(inp["tokens"]).reshape(T, B)
    with torch.no_grad():
        y = model(src, lengths, tokens)
        w = model.last_weights  # [B, T, S]
        for b in range(B):
            L = int(lengths[b])
            alone = model(src[:L, b:b + 1], lengths[b:b + 1], tokens[:, b:b + 1])
            err = (alone - y[:, b:b + 1]).abs().max().item()
            assert err < 1e-6, f"{name} source {b}: batch vs alone differ by {err}"
    write(name + ".torch.json", {"torch_version": torch.__version__, "output": f32list(y), "weights": f32list(w)})


def ours():
    seq2seq("ours_ragged_seq2seq_attention")
    for name in ["ours_ragged_bigru_words", "ours_ragged_bilstm_tagger"]:
        model, spec = load(os.path.join(OUT, name + ".safetensors"))
        model.eval()
        with open(os.path.join(OUT, name + ".input.json")) as f:
            x, lengths = batch_of(json.load(f))
        y = check_alone(model, spec, x, lengths)
        write(name + ".torch.json", {"torch_version": torch.__version__, "output": f32list(y)})


def continued():
    path = os.path.join(OUT, "ours_ragged_bigru_words.safetensors")
    model, spec = load(path)
    chars, words, _ = words_and_vocab(model.unfold_metadata)
    idx = {c: i for i, c in enumerate(chars)}
    g = torch.Generator().manual_seed(5)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(20):
        pick = torch.randint(0, 2000, (16,), generator=g).tolist()
        ws = [words[i] for i in pick]
        x, lengths = ragged([[idx[c] for c in w] for w in ws], len(chars), g)
        loss = F.cross_entropy(model(x, lengths), torch.tensor([word_class(w) for w in ws]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"torch_continued_bigru_words: loss after 20 packed steps {loss.item():.3f}")
    out = os.path.join(OUT, "torch_continued_bigru_words.safetensors")
    save(model, spec, out, {"trained": f"unfold-rnn, then 20 Adam steps in torch {torch.__version__}"})
    print(f"wrote {os.path.relpath(out, ROOT)} ({os.path.getsize(out)} bytes)")
    ws = [words[i] for i in (2500, 2501, 2502, 2503, 2504, 2505)]
    x, lengths = ragged([[idx[c] for c in w] for w in ws], len(chars), g)
    model.eval()
    y = check_alone(model, spec, x, lengths)
    write("torch_continued_bigru_words.json", {"torch_version": torch.__version__, "T": x.shape[0], "B": x.shape[1],
                                               "ids": x.reshape(-1).tolist(), "lengths": lengths.tolist(), "output": f32list(y)})


def ddp():
    path = os.path.join(OUT, "ours_ragged_bilstm_tagger.safetensors")
    model, spec = load(path)
    meta = model.unfold_metadata
    chars, _, text = words_and_vocab(meta)
    idx = {c: i for i, c in enumerate(chars)}
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    dist.init_process_group("gloo", rank=0, world_size=1)
    wrapped = nn.parallel.DistributedDataParallel(model)
    g = torch.Generator().manual_seed(6)
    opt = torch.optim.Adam(wrapped.parameters(), lr=0.02)
    for step in range(10):
        starts = torch.randint(0, 8000, (12,), generator=g).tolist()
        lens = torch.randint(3, 13, (12,), generator=g).tolist()
        seqs = [text[s:s + n] for s, n in zip(starts, lens)]
        x, lengths = ragged([[idx[c] for c in s] for s in seqs], len(chars), g)
        y = torch.full(x.shape, -100, dtype=torch.long)
        for b, s in enumerate(seqs):
            y[:len(s), b] = torch.tensor([1 if c in "aeiouAEIOU" else 0 for c in s])
        loss = F.cross_entropy(wrapped(x, lengths).reshape(-1, 2), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"torch_ddp_bilstm_tagger: loss after 10 DDP steps {loss.item():.3f}")
    out = os.path.join(OUT, "torch_ddp_bilstm_tagger.safetensors")
    # What a user who does not unwrap the wrapper writes: its state dict ('module.' names), the spec and vocabulary.
    sd = wrapped.state_dict()
    assert all(k.startswith("module.") for k in sd), list(sd)[:3]
    write_safetensors(out, sd, {**meta, "trained": f"torch {torch.__version__} DistributedDataParallel (gloo, 1 process)"})
    # to_torch.save unwraps the wrapper itself: plain names, the metadata kept.
    unwrapped = os.path.join(OUT, "..", "..", "..", "build", "ddp-unwrapped.safetensors")
    os.makedirs(os.path.dirname(unwrapped), exist_ok=True)
    save(wrapped, spec, unwrapped)
    t, m2 = read_safetensors(unwrapped)
    assert set(t) == {k[len("module."):] for k in sd} and m2["vocab"] == meta["vocab"], "save() did not unwrap DDP"
    os.remove(unwrapped)
    dist.destroy_process_group()
    print(f"wrote {os.path.relpath(out, ROOT)} ({os.path.getsize(out)} bytes)")
    # to_torch.load tells the user which prefix to strip, and strips it when asked.
    try:
        load(out)
        raise AssertionError("a 'module.' file loaded without strip_prefix")
    except ValueError as e:
        assert "strip_prefix='module.'" in str(e), e
    back, _ = load(out, strip_prefix="module.")
    seqs = [text[s:s + n] for s, n in ((100, 9), (4000, 4), (7000, 12), (300, 2))]
    x, lengths = ragged([[idx[c] for c in s] for s in seqs], len(chars), g)
    back.eval()
    y = check_alone(back, spec, x, lengths)
    write("torch_ddp_bilstm_tagger.json", {"torch_version": torch.__version__, "T": x.shape[0], "B": x.shape[1],
                                           "ids": x.reshape(-1).tolist(), "lengths": lengths.tolist(), "output": f32list(y)})


def main():
    ours()
    continued()
    ddp()
    # The round trip kept every metadata key the JavaScript side wrote.
    js = read_safetensors(os.path.join(OUT, "ours_ragged_bigru_words.safetensors"))[1]
    back = read_safetensors(os.path.join(OUT, "torch_continued_bigru_words.safetensors"))[1]
    lost = [k for k, v in js.items() if back.get(k) != v]
    assert not lost, f"metadata lost or changed: {lost}"


if __name__ == "__main__":
    main()
