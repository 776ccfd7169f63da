#!/usr/bin/env bash
# Re-measure the README's quality numbers: `qa eval` on squad2-open (../shared) and on the seeds question sets,
# with the default answerer (the bundled reader) and with the sentence answerer (`--reader sentence`).
# Writes benchmarks/results/*.json. 27 to 39 minutes on a 2-core CPU (index build included; the reader re-ranks
# the questions retrieval is unsure of, a third of squad2-open's).
# RERANK=N bash benchmarks/run_eval.sh: the same with --rerank N (0: no re-ranking), written to *-rerankN.json;
# QA_RERANK_MARGIN=1 re-ranks every question (about an hour).
# READERS=default measures only the default answerer's rows (READERS=sentence only the sentence answerer's).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
SQUAD=${SQUAD:-../shared/data/squad2-open}
mkdir -p benchmarks/results benchmarks/out
# the default row passes no --reader; `--reader sentence` answers with whole sentences, the bundled reader still
# naming what a follow-up's "he" or "it" refers to (qa.answering.Answerer.span_reader)
for reader in ${READERS:-default sentence}; do
    suffix=$([ "$reader" = default ] && echo "" || echo "-$reader")
    read_args=()
    [ "$reader" = default ] || read_args=(--reader "$reader")
    if [ -n "${RERANK:-}" ]; then
        suffix="$suffix-rerank$RERANK"
        read_args+=(--rerank "$RERANK")
    fi
    qa eval --docs "$SQUAD/corpus" --index benchmarks/out/squad-index "${read_args[@]}" \
        --questions "$SQUAD/questions-dev.jsonl" --out "benchmarks/out/squad-rows$suffix.jsonl" --json \
        | tee "benchmarks/results/squad2-open-dev$suffix.json"
    for set in seeds-questions seeds-followups; do
        qa eval --docs seeds --index benchmarks/out/index-seeds "${read_args[@]}" \
            --questions "tests/data/$set.jsonl" --json | tee "benchmarks/results/$set$suffix.json"
    done
done
