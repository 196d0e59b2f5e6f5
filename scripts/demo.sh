#!/usr/bin/env bash
# Builds podvisor and runs every example pod, one after the other, showing their timelines.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p podvisor
bin=target/release/podvisor
for f in examples/*.yaml; do
  echo "=== $f"
  case "$f" in
    *termination-message*|*crashloop*) "$bin" run -f "$f" --stop-after 25s || true ;;
    *) "$bin" run -f "$f" --stop-after 8s || true ;;
  esac
done
echo "timing file of lifecycle-timing.yaml:"
cat /tmp/podvisor-example/timing/timing 2>/dev/null || true
