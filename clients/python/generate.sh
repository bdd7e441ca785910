#!/usr/bin/env bash
# Generates the Python stubs from proto/ into OUT_DIR (default: build/clients/python/gen) with Debian's protoc and
# /usr/bin/grpc_python_plugin, for Debian's python3-grpcio and python3-protobuf. Nothing generated is committed.
# (grpc.health.v1 is left out: its module path, grpc.health, would collide with the grpc package itself.)
#   clients/python/generate.sh [OUT_DIR]
# Then: PYTHONPATH=OUT_DIR:clients/python /usr/bin/python3 clients/python/example.py 127.0.0.1:50051
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${PROTO_DIR:-$here/../../proto}
out=${1:-$here/../../build/clients/python/gen}
mkdir -p "$out"
protoc -I "$proto_dir" \
  --python_out="$out" --pyi_out="$out" \
  --grpc_python_out="$out" --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  "$proto_dir/portraitbridge/profile/v1/profile.proto" \
  "$proto_dir/google/rpc/status.proto" \
  "$proto_dir/google/rpc/error_details.proto"
echo "$out"
