#!/usr/bin/env python3
"""Check ONNX files written by unfold-rnn's toONNX with the `onnx` package's own
checker (full check, strict shape inference) and print each graph's inputs,
outputs and recurrent operators. An independent check of the encoding; the
numbers are checked in test/onnx.test.ts with ONNX Runtime.

    apt-get install python3-onnx        # Debian 12: onnx 1.12 (opset <= 17, IR 8)
    /usr/bin/python3 tools/check_onnx.py model.onnx [more.onnx ...]
"""
import sys

import onnx


def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]


def main(paths):
    if not paths:
        sys.exit(__doc__)
    for path in paths:
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, strict_mode=True)
        ops = [n.op_type for n in m.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
        print(f"{path}: ok (IR {m.ir_version}, opset {m.opset_import[0].version}); {' '.join(ops)}")
        for v in m.graph.input:
            print(f"  in  {v.name} {dims(v)}")
        for v in m.graph.output:
            print(f"  out {v.name} {dims(v)}")


if __name__ == "__main__":
    main(sys.argv[1:])
