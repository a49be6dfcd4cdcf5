"""ONNX files written by torch.onnx.export (PyTorch 1.13) for fromONNX's tests
(test/onnx-import.test.ts): LSTM, GRU, RNN; stacked; bidirectional; with an
embedding and a head; batch-first and time-major; many-to-many and
many-to-one. The test runs each file in onnxruntime-web and in the imported
model on the same inputs; CI needs only the committed .onnx files.

  /usr/bin/python3 tools/torch_onnx_import_fixtures.py [test/fixtures/onnx-import]
"""
import json
import os
import sys

import torch
import torch.nn as nn

out_dir = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/onnx-import"
os.makedirs(out_dir, exist_ok=True)


class EmbedLSTMHead(nn.Module):
    """tokens [T, B] -> Embedding -> LSTM -> Linear, every step: a char LM."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 5)
        self.rnn = nn.LSTM(5, 8)
        self.fc = nn.Linear(8, 12)

    def forward(self, ids):
        y, _ = self.rnn(self.emb(ids))
        return self.fc(y)


class StackedBiGRU(nn.Module):
    """features [T, B, 4] -> 2-layer bidirectional GRU -> Linear, every step."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 6, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


class BatchFirstRNNLast(nn.Module):
    """features [B, T, 3] (batch_first) -> 2-layer tanh RNN -> last step -> Linear -> LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(3, 7, num_layers=2, batch_first=True)
        self.fc = nn.Linear(7, 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return torch.log_softmax(self.fc(y[:, -1, :]), dim=-1)


class LSTMFinalState(nn.Module):
    """tokens [B, T] (batch_first) -> Embedding -> 2-layer LSTM -> h_n[-1] -> Linear -> Softmax: a classifier."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.LSTM(6, 5, num_layers=2, batch_first=True)
        self.fc = nn.Linear(5, 3)

    def forward(self, ids):
        _, (h, _) = self.rnn(self.emb(ids))
        return torch.softmax(self.fc(h[-1]), dim=-1)


class BiLSTMBatchFirst(nn.Module):
    """features [B, T, 3] -> bidirectional LSTM -> Linear, every step, batch-first."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


class ReluRNNLastTimeMajor(nn.Module):
    """features [T, B, 5] -> relu RNN -> output[-1] -> Linear (a regression)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(5, 6, nonlinearity="relu")
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[-1])


CASES = [
    ("lstm_embedding_head", EmbedLSTMHead, "tokens", (7, 3), False),
    ("gru_stacked_bidirectional", StackedBiGRU, "features", (7, 3, 4), False),
    ("rnn_batch_first_last_step_logsoftmax", BatchFirstRNNLast, "features", (3, 7, 3), True),
    ("lstm_stacked_final_state_softmax", LSTMFinalState, "tokens", (3, 7), True),
    ("lstm_bidirectional_batch_first", BiLSTMBatchFirst, "features", (3, 7, 3), True),
    ("rnn_relu_last_step", ReluRNNLastTimeMajor, "features", (7, 3, 5), False),
]

index = []
for i, (name, cls, kind, shape, batch_first) in enumerate(CASES):
    torch.manual_seed(100 + i)
    m = cls().eval()
    # Move the weights off their initialisation a little, as a trained model would be.
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    if kind == "tokens":
        x = torch.randint(0, m.emb.num_embeddings, shape)
    else:
        x = torch.randn(*shape)
    path = os.path.join(out_dir, f"{name}.onnx")
    torch.onnx.export(
        m, (x,), path, input_names=["input"], output_names=["output"], opset_version=14,
        dynamic_axes={"input": {0: "d0", 1: "d1"}, "output": {0: "o0"}},
    )
    index.append({"name": name, "input": kind, "batchFirst": batch_first, "shape": list(shape), "torch": torch.__version__})
    print(f"wrote {path}")

with open(os.path.join(out_dir, "index.json"), "w") as f:
    json.dump(index, f, indent=1)
