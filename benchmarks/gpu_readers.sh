#!/usr/bin/env bash
# On a GPU machine: measure embedding throughput, then train reader variants with `qa train-reader` and compare
# them as the engine reads (benchmarks/reader_reads.py score, on reads captured on the CPU machine beforehand).
# The variant with the largest area under HasAns-F1-against-NoAns is kept: its folder is tarred into
# $OUT/best.tar.part-* (each under 16 MB) as soon as it leads, so a run stopped early still returns the best so far.
#
#   bash benchmarks/gpu_readers.sh DIR
#
# DIR holds base/ (the MiniLM folder to start from), data/*.json.gz (the two reader-train files),
# data/corpus/ and data/questions-dev.jsonl.gz (squad2-open) and data/reads-dev.jsonl.gz (from
# `reader_reads.py capture`). VARIANTS (default below) is a list of name:extra-train-reader-arguments.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: gpu_readers.sh DIR}
OUT=${OUT:-benchmarks/out/gpu}
WORK=${WORK:-/tmp/gpu_readers}
mkdir -p "$OUT" "$WORK"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}
for f in "$SRC"/data/*.gz; do gunzip -c "$f" > "$WORK/$(basename "${f%.gz}")"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

timeout 120 $PY benchmarks/embed_throughput.py --docs "$SRC/data/corpus" --n 20000 --model "$SRC/base" \
    --batch 64 256 512 --out "$OUT/embed_throughput_gpu.json" || echo "embed_throughput failed"

DATA=(--data "$WORK/squad2-train-partial.json" --data "$WORK/squadshifts-new-wiki.json")
EVAL=(--eval-open "$SRC/data/corpus" "$WORK/questions-dev.jsonl")
VARIANTS=${VARIANTS:-"neg1:--negatives 1 ref: neg2:--negatives 2 neg1e6:--negatives 1 --epochs 6"}
best_auc=-1
IFS=' ' read -r -a tokens <<< "$VARIANTS"
# regroup "name:args..." tokens into variants
names=(); args=()
for t in "${tokens[@]}"; do
    if [[ "$t" == *:* ]]; then names+=("${t%%:*}"); args+=("${t#*:}"); else args[-1]="${args[-1]} $t"; fi
done
for i in "${!names[@]}"; do
    name=${names[$i]}
    # shellcheck disable=SC2086
    $PY -m qa train-reader "${DATA[@]}" "${EVAL[@]}" --base "$SRC/base" --epochs 4 --batch-size 64 --lr 1e-4 \
        --max-length 384 --stride 128 ${args[$i]} --out "$WORK/$name" 2>&1 | tail -3 || { echo "$name failed"; continue; }
    $PY benchmarks/reader_reads.py score --reads "$WORK/reads-dev.jsonl" --reader "$WORK/$name" \
        --out "$WORK/$name.score.json" 2>&1 | tail -1
    $PY - "$WORK" "$name" "${args[$i]}" >> "$OUT/variants.jsonl" <<'EOF'
import json, sys
work, name, extra = sys.argv[1:]
t = json.load(open(f"{work}/{name}/training.json"))
s = next(iter(json.load(open(f"{work}/{name}.score.json")).values()))
print(json.dumps({"name": name, "args": extra, "train_seconds": t["train_seconds"], "gpu": t["gpu"],
                  "windows": t["windows"], "examples": t["examples"], "gold": t["scores"], "engine_reads": s}))
EOF
    auc=$($PY -c "import json,sys; print(next(iter(json.load(open(sys.argv[1])).values()))['auc'])" "$WORK/$name.score.json")
    if $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$auc" "$best_auc"; then
        best_auc=$auc
        rm -f "$OUT"/best.tar.part-*
        tar -C "$WORK/$name" -cf - . | split -b 15M - "$OUT/best.tar.part-"
        echo "$name" > "$OUT/best.txt"
        echo "best so far: $name (auc $auc)"
    fi
done
cat "$OUT/variants.jsonl"
