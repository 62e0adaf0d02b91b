#!/usr/bin/env bash
# Runs the libFuzzer harnesses (fuzz/): builds them in build-sanitize/
# (ASan + UBSan, scripts/build.sh --sanitize), then runs each for SECONDS
# (default 60), two at a time, starting from the committed seeds
# (fuzz/corpus/NAME) and what earlier runs found (fuzz-out/NAME/corpus).
# A crash, leak, timeout or out-of-memory input is saved under
# fuzz-out/NAME/ and makes the script fail; reproduce it with
#   build-sanitize/fuzz/fuzz-NAME fuzz-out/NAME/crash-...
#
# --ci (scripts/test.sh) runs a fixed number of inputs per harness (about
# 40 s each here) with a fixed seed from the seeds alone, into fuzz-out/ci/:
# the same inputs on every machine, so that CI is repeatable.
#
# usage: scripts/fuzz.sh [SECONDS | --ci] [NAME...]
#   NAME: checkpoint gguf onnx tokenizer npy options requests (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
OUT=fuzz-out SEED=0
if [ "$SECONDS_EACH" = --ci ]; then
  SECONDS_EACH=600 OUT=fuzz-out/ci SEED=1
  rm -rf fuzz-out/ci
fi
[ $# -gt 0 ] && shift
NAMES=("$@")
[ ${#NAMES[@]} -eq 0 ] &&
  NAMES=(checkpoint gguf onnx tokenizer npy options requests)
JOBS=${TERN_FUZZ_JOBS:-$(nproc)}

scripts/build.sh --sanitize --target tern-fuzzers

# --ci's inputs per harness.
declare -A CI_RUNS=([checkpoint]=60000 [gguf]=30000 [onnx]=3000
  [tokenizer]=80000 [npy]=3000000 [options]=400000 [requests]=1000000)

run_one() {
  eval "$CI_RUNS_TEXT"
  local name=$1 out=$OUT/$1 runs=-1
  [ "$SEED" = 1 ] && runs=${CI_RUNS[$name]}
  mkdir -p "$out/corpus"
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
  # Limits: 2 GiB of memory, 1 GiB in one allocation (a file that claims a
  # huge tensor must be refused before it is allocated), 30 s per input.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    build-sanitize/fuzz/fuzz-"$name" "$out/corpus" fuzz/corpus/"$name" \
    -dict=fuzz/dicts/"$name".dict -max_total_time="$SECONDS_EACH" \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=30 \
    -max_len=262144 -print_final_stats=1 -seed="$SEED" -runs="$runs" \
    -artifact_prefix="$out/" > "$out/log.txt" 2>&1
}
export -f run_one
export SECONDS_EACH OUT SEED CI_RUNS_TEXT="$(declare -p CI_RUNS)"

if [ "$SEED" = 1 ]; then
  echo "fuzz: ${NAMES[*]}, a fixed number of inputs each (--ci), $JOBS at a time"
else
  echo "fuzz: ${NAMES[*]}, ${SECONDS_EACH} s each, $JOBS at a time"
fi
status=0
printf '%s\n' "${NAMES[@]}" |
  xargs -P "$JOBS" -I{} bash -c 'run_one {} || exit 0' || true

printf '%-11s %10s %8s %8s %8s  %s\n' harness execs edges features corpus result
for name in "${NAMES[@]}"; do
  log=$OUT/$name/log.txt
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$line")
  crashes=$(find "$OUT/$name" -maxdepth 1 -type f \( -name 'crash-*' \
    -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  result=ok
  if [ -n "$crashes" ] || ! grep -q '^Done [0-9]* runs' "$log"; then
    result="FAILED: see $log"
    status=1
  fi
  printf '%-11s %10s %8s %8s %8s  %s\n' "$name" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$result"
  [ -n "$crashes" ] && sed 's/^/  /' <<<"$crashes"
done
exit $status
