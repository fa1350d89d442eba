#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) in turn, one at a time, for a fixed time
# each, starting from the committed seeds, and prints one summary line per target.
#
#   fuzz/run.sh [seconds-per-target] [target ...]      default: 30 s, every target
#
# Environment: FUZZ_SANITIZER (address | none, default address), FUZZ_TIMEOUT (seconds
# one input may take before libFuzzer calls it a timeout, default 10), FUZZ_RSS_MB
# (memory limit, default 2048). Exit status: 0 if no target found anything (or
# cargo-fuzz is not installed), 1 if any target crashed / timed out / ran out of
# memory, 2 if the build failed. Working corpora go to fuzz/corpus-work/<target>/,
# logs to fuzz/logs/<target>.log, crashing inputs to fuzz/artifacts/<target>/ (all
# gitignored); copy a reproducer to fuzz/regressions/<target>/ to keep it.
set -uo pipefail

secs="${1:-30}"
[ "$#" -gt 0 ] && shift
case "$secs" in '' | *[!0-9]*) echo "usage: fuzz/run.sh [seconds-per-target] [target ...]" >&2; exit 2 ;; esac

cd "$(dirname "$0")" || exit 2
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked); not fuzzing."
    exit 0
fi

# cargo-fuzz passes nightly -Z flags; on a stable toolchain RUSTC_BOOTSTRAP lets them through.
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-address}"
timeout="${FUZZ_TIMEOUT:-10}"
rss_mb="${FUZZ_RSS_MB:-2048}"
# -a: debug assertions (and overflow checks) on, so arithmetic bugs panic.
build_flags=(-a -s "$sanitizer")

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list | grep -vx gen_seeds)
fi

echo "building ${#targets[@]} targets (sanitizer: $sanitizer)..."
mkdir -p logs
if ! cargo fuzz build "${build_flags[@]}" >logs/build.log 2>&1; then
    tail -n 40 logs/build.log
    echo "fuzz/run.sh: build failed (full log: fuzz/logs/build.log)"
    exit 2
fi

failed=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus-work/$t"
    if [ -d "seeds/$t" ]; then
        cp -n seeds/"$t"/* "corpus-work/$t/" 2>/dev/null
    fi
    log="logs/$t.log"
    echo "fuzzing $t for ${secs}s..."
    cargo fuzz run "${build_flags[@]}" "$t" "corpus-work/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout="$timeout" -rss_limit_mb="$rss_mb" \
        >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$')
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    secs_run=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -n 1 | awk '{print $5}')
    [ -n "$secs_run" ] || secs_run="$secs"
    corpus=$(find "corpus-work/$t" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result="ok"
    else
        failed=1
        kind="crash"
        grep -q 'libFuzzer: timeout' "$log" && kind="timeout"
        grep -q 'out-of-memory' "$log" && kind="oom"
        unit=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | awk '{print $5}')
        result="$kind ${unit:-(see $log)}"
    fi
    eps=$(( ${execs:-0} / (secs_run > 0 ? secs_run : 1) ))
    summary+=("$(printf '%-26s %6ss %12s execs %8s/s %6s corpus  %s' "$t" "$secs_run" "${execs:-?}" "$eps" "$corpus" "$result")")
    echo "${summary[-1]}"
done

echo
echo "summary (target, seconds, executions, exec/s, corpus files, result):"
printf '%s\n' "${summary[@]}"
exit "$failed"
