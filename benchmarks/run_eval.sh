#!/usr/bin/env bash
# Re-measure the README's quality numbers: `qa eval` on squad2-open (../shared) and on the seeds question sets.
# Writes benchmarks/results/*.json. About 6 minutes on a 2-core CPU (index build included).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
SQUAD=${SQUAD:-../shared/data/squad2-open}
mkdir -p benchmarks/results benchmarks/out
qa eval --docs "$SQUAD/corpus" --index benchmarks/out/squad-index \
    --questions "$SQUAD/questions-dev.jsonl" --out benchmarks/out/squad-rows.jsonl --json \
    | tee benchmarks/results/squad2-open-dev.json
for set in seeds-questions seeds-followups; do
    qa eval --docs seeds --index benchmarks/out/index-seeds --questions "tests/data/$set.jsonl" --json \
        | tee "benchmarks/results/$set.json"
done
