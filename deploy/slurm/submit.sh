#!/usr/bin/env bash
# Submits the comparison suite as a Slurm job array of N shards plus a merge
# job that runs when every shard has succeeded, and prints where the report
# will be.
#
#   deploy/slurm/submit.sh [-n SHARDS] [-o OUT] [-b BINARY] [-- MODE ARGS...]
#
# Defaults: 4 shards, OUT=mixact-report-<date>, BINARY=target/release/mixact-lab
# (build it first: cargo build --release -p mixact-lab), MODE ARGS `suite quick`. MODE ARGS go
# to every shard (for example: `suite standard`, `sweep standard`, or
# `suite --csv FILE --target COL`). Rerun a failed shard i with
#   MIXACT_BIN=... MIXACT_OUT=OUT MIXACT_ARGS="..." sbatch --array=i deploy/slurm/compare.sbatch
# (it skips the units it already stored), then the merge:
#   BINARY merge OUT/shard-* --out OUT/report
# (each shard folder records its plan, so the merge knows a suite from a sweep).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shards=4
out="mixact-report-$(date +%Y%m%d-%H%M%S)"
bin="target/release/mixact-lab"
usage() { echo "usage: $0 [-n SHARDS] [-o OUT] [-b BINARY] [-- MODE ARGS...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -n|-o|-b) [ $# -ge 2 ] || usage ;;&
    -n) shards="$2"; shift 2 ;;
    -o) out="$2"; shift 2 ;;
    -b) bin="$2"; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
# A job array of 1 to 10000 tasks (Slurm's own MaxArraySize is usually lower).
if ! [[ "$shards" =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "-n: the number of shards must be a whole number from 1 to 9999, not '$shards'" >&2
  exit 2
fi
[ $# -gt 0 ] || set -- suite quick
mkdir -p "$out"
out="$(cd "$out" && pwd)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release -p mixact-lab)" >&2; exit 1; }
# Shell-quoted, so that an argument with a space (a CSV path, a configuration
# name such as "mask relu+sin") reaches every shard as one argument.
MIXACT_ARGS="$(printf '%q ' "$@")"
export MIXACT_BIN="$bin" MIXACT_OUT="$out" MIXACT_ARGS
array=$(sbatch --parsable --chdir="$out" --array="0-$((shards - 1))" "$here/compare.sbatch")
array="${array%%;*}"
merge=$(sbatch --parsable --chdir="$out" --job-name=mixact-merge --dependency="afterok:${array}" \
  --output="$out/merge-%j.out" \
  --wrap="$(printf '%q merge %q/shard-* --out %q' "$bin" "$out" "$out/report")")
merge="${merge%%;*}"
echo "array job ${array} (${shards} shards) and merge job ${merge} submitted"
echo "report: ${out}/report/report.md once job ${merge} has finished"
