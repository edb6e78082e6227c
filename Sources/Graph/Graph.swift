/// The engine: ONNX import, graph, forward and reverse-mode execution.
