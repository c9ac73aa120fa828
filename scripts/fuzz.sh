#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of every boundary that reads outside input:
# the export reader, LogEntry parsing, message extraction, masking + the output boundary, and
# the pipeline on a whole file. Each target runs for SECONDS (default 20) from the committed
# seeds in fuzz/corpus/<target>/; new inputs it finds go to target/fuzz-corpus/ (not to git),
# a crash to fuzz/artifacts/<target>/ and a non-zero exit.
#
# On the stable toolchain: no sanitizer (`-s none`: the code is safe Rust, a panic or an
# assertion is the failure looked for); RUSTC_BOOTSTRAP lets cargo-fuzz pass its `-Z` flags.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1
targets=(export_reader log_entry message mask pipeline)
cargo fuzz build -s none --dev
for t in "${targets[@]}"; do
  work="target/fuzz-corpus/$t"
  mkdir -p "$work"
  echo "fuzz: $t for ${seconds}s"
  cargo fuzz run -s none --dev "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 2>&1 | tail -n 12
done
