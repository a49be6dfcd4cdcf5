"""Native PyTorch as a benchmark peer for bench/peers-all.js (npm run bench:peers).

Reads one JSON request per line on stdin, answers one JSON line on stdout:
  {"case": "W1" | "W2" | "W3", "cell": "lstm" | "gru", "seconds": 1.0}
  -> {"mean": seconds per call, "samples": calls timed, "per": units (characters) per call}
The thread count is fixed per process (torch.set_num_threads and the
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS of its environment), so the runner
starts one process per thread count and alternates requests between peers.

Workloads (../shared/DESIGN.md): W1 = RNN forward B=32 T=64 I=64 H=256;
W2 = W1 + Linear(256, 64) + cross-entropy at every step, backward, clip 5,
Adam; W3 = char LSTM, vocabulary 65, embedding 65, H=128, sequence 25,
batch 1, hidden state carried (truncated BPTT), Adam.
"""
import json
import os
import sys
import time

import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)

B, T, I, H, O = 32, 64, 64, 256, 64


def rnn(cell, i, h):
    return (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(i, h)


def w1(cell):
    m = rnn(cell, I, H)
    x = torch.rand(T, B, I) * 2 - 1

    def step():
        with torch.no_grad():
            m(x)

    return step, 1


def w2(cell):
    m = rnn(cell, I, H)
    head = torch.nn.Linear(H, O)
    params = list(m.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    x = torch.rand(T, B, I) * 2 - 1
    y = torch.randint(0, O, (T * B,))
    ce = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        out, _ = m(x)
        loss = ce(head(out).reshape(T * B, O), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()

    return step, 1


def w3(cell):
    V, E, Hc, S = 65, 65, 128, 25
    emb = torch.nn.Embedding(V, E)
    m = rnn(cell, E, Hc)
    head = torch.nn.Linear(Hc, V)
    params = list(emb.parameters()) + list(m.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    ids = torch.randint(0, V, (S * 40 + 1,))
    ce = torch.nn.CrossEntropyLoss()
    st = {"pos": 0, "h": None}

    def step():
        p = st["pos"]
        if p + S + 1 > len(ids):
            p, st["h"] = 0, None
        x = ids[p : p + S].view(S, 1)
        y = ids[p + 1 : p + S + 1]
        opt.zero_grad()
        out, h = m(emb(x), st["h"])
        loss = ce(head(out).view(S, V), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        st["h"] = tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()
        st["pos"] = p + S

    return step, S  # per call: S characters


def blas():
    """The BLAS library this process loaded (Debian's torch links the generic libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l.lower() and ".so" in l}
        return sorted(libs)
    except OSError:
        return []


print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "blasThreads": os.environ.get("OPENBLAS_NUM_THREADS"), "blas": blas()}), flush=True)
cache = {}
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    key = (req["case"], req.get("cell", "lstm"))
    try:
        if key not in cache:
            cache[key] = {"W1": w1, "W2": w2, "W3": w3}[key[0]](key[1])
            cache[key][0]()  # warm-up
        step, per = cache[key]
        ms = []
        end = time.perf_counter() + float(req.get("seconds", 1.0))
        while time.perf_counter() < end or len(ms) < int(req.get("min", 3)):
            t0 = time.perf_counter()
            step()
            ms.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({"mean": sum(ms) / len(ms) / 1e3, "samples": len(ms), "per": per}), flush=True)
    except Exception as e:  # report, keep serving
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
