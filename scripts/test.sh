#!/usr/bin/env bash
# The project's test command (README): formatting, lints, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# No unwrap outside tests; every public item documented (workspace lint missing_docs).
cargo clippy --workspace --lib --bins --locked -- -D warnings -D clippy::unwrap_used
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo test --workspace --doc --locked
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
