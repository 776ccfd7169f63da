#!/usr/bin/env bash
# Re-measure the README's quality numbers: `qa eval` on squad2-open (../shared) and on the seeds question sets,
# with the default answerer (the best sentence) and with the bundled reader (`--reader bundled`).
# Writes benchmarks/results/*.json. About 15 minutes on a 2-core CPU (index build included).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
SQUAD=${SQUAD:-../shared/data/squad2-open}
mkdir -p benchmarks/results benchmarks/out
for reader in none bundled; do
    suffix=$([ "$reader" = none ] && echo "" || echo "-reader")
    qa eval --docs "$SQUAD/corpus" --index benchmarks/out/squad-index --reader "$reader" \
        --questions "$SQUAD/questions-dev.jsonl" --out "benchmarks/out/squad-rows$suffix.jsonl" --json \
        | tee "benchmarks/results/squad2-open-dev$suffix.json"
    for set in seeds-questions seeds-followups; do
        qa eval --docs seeds --index benchmarks/out/index-seeds --reader "$reader" \
            --questions "tests/data/$set.jsonl" --json | tee "benchmarks/results/$set$suffix.json"
    done
done
