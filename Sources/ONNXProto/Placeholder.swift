// Generated from onnx.proto by scripts/generate_onnx_proto.sh; see that script.
