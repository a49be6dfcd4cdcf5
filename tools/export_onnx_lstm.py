"""Export the W1 LSTM (I=64, H=256, input [T=64, B=32, 64]) to ONNX with
torch.onnx.export, for onnxruntime-web in bench/peers-all.js. The weights are
torch's default random initialisation (seed 0): only the speed matters.

  /usr/bin/python3 tools/export_onnx_lstm.py [bench/models/lstm-w1.onnx]
"""
import sys

import torch

out = sys.argv[1] if len(sys.argv) > 1 else "bench/models/lstm-w1.onnx"
torch.manual_seed(0)
T, B, I, H = 64, 32, 64, 256
m = torch.nn.LSTM(I, H).eval()
x = torch.rand(T, B, I)
torch.onnx.export(m, (x,), out, input_names=["x"], output_names=["y", "h", "c"], opset_version=14)
print(f"wrote {out}")
