#!/usr/bin/env bash
# Builds podvisor and runs every example pod, one after the other, showing its timeline and,
# next to the result, the outcome the example says to expect (its `# Expect:` line).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p podvisor
bin=target/release/podvisor
for f in examples/*.yaml; do
  echo "=== $f"
  stop=$(sed -n 's/^# Demo: .*--stop-after \([0-9a-z]*\).*/\1/p' "$f")
  "$bin" run -f "$f" --stop-after "${stop:-8s}" || true
  echo "expected: $(sed -n 's/^# Expect: //p' "$f")"
  echo
done
echo "timing file of lifecycle-timing.yaml:"
cat /tmp/podvisor-example/timing/timing 2>/dev/null || true
