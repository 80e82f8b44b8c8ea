#!/usr/bin/env bash
# The published package holds the library, its examples, tests and the small
# data they need: no reports, lab, benchmarks, CI or deploy scripts. Prints
# the .crate's size.
set -euo pipefail
cd "$(dirname "$0")/.."
list=$(cargo package --list --allow-dirty -p mixact)
bad=$(echo "$list" | grep -E '^(docs|lab|bench|onnx-check|ci|\.ci|deploy|python|target)/' || true)
if [ -n "$bad" ]; then
  echo "ci: the package ships files users do not need:"
  echo "$bad"
  exit 1
fi
cargo package --quiet --no-verify --allow-dirty -p mixact
crate=$(ls target/package/mixact-*.crate | head -1)
echo "ci: package $crate: $(echo "$list" | wc -l) files, $(stat -c %s "$crate") bytes"
