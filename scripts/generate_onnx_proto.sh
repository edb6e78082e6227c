#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift from scripts/onnx/onnx.proto.
#
# scripts/onnx/onnx.proto is onnx/onnx.proto (the non-ML variant, proto2 syntax, package "onnx")
# as shipped in the `onnx` pip package 1.23.2 (IR_VERSION 0x0E). To update it:
#     python3 -m venv /tmp/onnx-venv && /tmp/onnx-venv/bin/pip install 'onnx==1.23.*'
#     ONNX_PROTO=$(/tmp/onnx-venv/bin/python -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))') \
#         scripts/generate_onnx_proto.sh
# (ONNX_PROTO, if set, is copied over scripts/onnx/onnx.proto first.)
#
# Needs protoc (apt: protobuf-compiler; 3.21 used) and swift-protobuf's protoc-gen-swift at the
# version Package.swift resolves (1.39.0). The plugin is slow to build (minutes), so it is built
# once, outside the repository, in $PLUGIN_DIR (default /tmp/swift-protobuf), if not there yet.
# The generated file is committed; the build never runs this script.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROTO_DIR="$ROOT/scripts/onnx"
OUT_DIR="$ROOT/Sources/ONNXProto"
SWIFT_PROTOBUF_VERSION=${SWIFT_PROTOBUF_VERSION:-1.39.0}
PLUGIN_DIR=${PLUGIN_DIR:-/tmp/swift-protobuf}
PLUGIN="$PLUGIN_DIR/.build/release/protoc-gen-swift"

if [[ -n "${ONNX_PROTO:-}" ]]; then
    cp "$ONNX_PROTO" "$PROTO_DIR/onnx.proto"
fi

if [[ ! -x "$PLUGIN" ]]; then
    if [[ ! -d "$PLUGIN_DIR/.git" ]]; then
        # Local mirror first (offline machines), then GitHub.
        SRC=/opt/swift-packages/apple/swift-protobuf.git
        [[ -d "$SRC" ]] || SRC=https://github.com/apple/swift-protobuf.git
        git clone -q "$SRC" "$PLUGIN_DIR"
    fi
    git -C "$PLUGIN_DIR" checkout -q "$SWIFT_PROTOBUF_VERSION"
    (cd "$PLUGIN_DIR" && swift build -c release --product protoc-gen-swift)
fi

command -v protoc >/dev/null || { echo "protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

protoc --plugin=protoc-gen-swift="$PLUGIN" \
    --proto_path="$PROTO_DIR" \
    --swift_opt=Visibility=Public \
    --swift_opt=FileNaming=DropPath \
    --swift_out="$OUT_DIR" \
    "$PROTO_DIR/onnx.proto"

echo "generated $OUT_DIR/onnx.pb.swift ($(wc -l < "$OUT_DIR/onnx.pb.swift") lines) with $("$PLUGIN" --version 2>/dev/null || echo protoc-gen-swift)"
