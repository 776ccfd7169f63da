#!/usr/bin/env bash
# On a GPU machine: train reader variants with `qa train-reader` (stage 1 on whole paragraphs, then stage 2 on
# sentence windows, the shipped recipe unless a variant says otherwise) and compare them as the engine reads
# (benchmarks/reader_reads.py score, on reads captured on the CPU machine beforehand). The variant whose best
# guess's sentence most often covers the gold answer (`sentence_contains`, the target's measure; then the area
# under HasAns-F1-against-NoAns) is kept: its folder is tarred into $OUT/best.tar.part-* (each under 16 MB) at
# the end. The variants train side by side (one small model leaves most of an H100 idle), each stopped after
# BUDGET seconds from the start so that the run ends inside its time limit; then the embedding throughput is measured.
#
#   bash benchmarks/gpu_readers.sh DIR
#
# FROM=base skips stage 1: stage 2 (with each variant's arguments added) starts from DIR/base, then a reader
# (`BASE=qa/data/reader bash benchmarks/gpu_prepare.sh`), for a variant of stage 2 alone. THROUGHPUT=0 skips the
# embedding throughput at the end.
#
# DIR holds base/ (the MiniLM folder to start from), data/*.json.gz (the two reader-train files),
# data/corpus/ and data/questions-dev.jsonl.gz (squad2-open) and data/reads-dev.jsonl.gz (from
# `reader_reads.py capture`). VARIANTS (default below) is a list of name:extra-stage-1-arguments; STAGE2 holds
# stage 2's arguments.
#
# `bash benchmarks/gpu_prepare.sh` makes DIR (gpu/) here, and leaves the bundled models (90 MB) out of what
# travels: the device machine takes at most 64 MiB of working tree.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: gpu_readers.sh DIR}
OUT=${OUT:-benchmarks/out/gpu}
WORK=${WORK:-/tmp/gpu_readers}
BUDGET=${BUDGET:-420}  # seconds each variant may take, all of them at once
mkdir -p "$OUT" "$WORK"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$(cd "$SRC" && pwd)/site${PYTHONPATH:+:$PYTHONPATH}"  # pysbd, carried by gpu_prepare.sh
PY=${PY:-python3}
T0=$SECONDS
for f in "$SRC"/data/*.gz; do gunzip -c "$f" > "$WORK/$(basename "${f%.gz}")"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"

DATA=(--data "$WORK/squad2-train-partial.json" --data "$WORK/squadshifts-new-wiki.json")
EVAL=(--eval-open "$SRC/data/corpus" "$WORK/questions-dev.jsonl")
[ "${EVAL_OPEN:-1}" = 1 ] || EVAL=()  # EVAL_OPEN=0: no gold-paragraph score (a quick try on a CPU)
STAGE1=(--epochs 4 --batch-size 64 --lr 1e-4 --max-length 384 --stride 128)
STAGE2=${STAGE2:-"--windows 1 --epochs 1 --batch-size 32 --lr 3e-5"}
VARIANTS=${VARIANTS:-"neg2:--negatives 2 neg2s1:--negatives 2 --seed 1 neg3:--negatives 3 neg1e6:--negatives 1 --epochs 6"}
IFS=' ' read -r -a tokens <<< "$VARIANTS"
names=(); args=()  # regroup "name:args..." tokens into variants
for t in "${tokens[@]}"; do
    if [[ "$t" == *:* ]]; then names+=("${t%%:*}"); args+=("${t#*:}"); else args[-1]="${args[-1]} $t"; fi
done

variant() {  # name, stage-1 arguments: train both stages, replay the engine's reads, append a line to variants.jsonl
    local name=$1 extra=$2 from="$WORK/$1.1" stage2=$STAGE2
    left() { echo $((T0 + BUDGET - SECONDS > 1 ? T0 + BUDGET - SECONDS : 1)); }
    if [ "${FROM:-stage1}" = base ]; then  # stage 2 alone, from the reader in DIR/base, with the variant's arguments
        from="$SRC/base" stage2="$STAGE2 $extra" extra=""
    else
        # shellcheck disable=SC2086
        [ -f "$from/training.json" ] ||  # a rerun on the same machine keeps a finished stage 1
        timeout "$(left)" $PY -m qa train-reader "${DATA[@]}" --base "$SRC/base" "${STAGE1[@]}" $extra --out "$from" \
            > "$WORK/$name.log" 2>&1 || { echo "$name stage 1 failed: $(tail -1 "$WORK/$name.log")"; return; }
    fi
    # shellcheck disable=SC2086
    timeout "$(left)" $PY -m qa train-reader "${DATA[@]}" "${EVAL[@]}" --base "$from" $stage2 --out "$WORK/$name" \
        >> "$WORK/$name.log" 2>&1 || { echo "$name stage 2 failed: $(tail -1 "$WORK/$name.log")"; return; }
    timeout "$(left)" $PY benchmarks/reader_reads.py score --reads "$WORK/reads-dev.jsonl" --reader "$WORK/$name" \
        --out "$WORK/$name.score.json" >> "$WORK/$name.log" 2>&1 || { echo "$name score failed"; return; }
    $PY - "$from" "$WORK" "$name" "$extra" "$stage2" >> "$OUT/variants.jsonl" <<'EOF2'
import json, sys
start, work, name, extra, stage2 = sys.argv[1:]
t1 = json.load(open(f"{start}/training.json"))
t = json.load(open(f"{work}/{name}/training.json"))
s = next(iter(json.load(open(f"{work}/{name}.score.json")).values()))
print(json.dumps({"name": name, "stage1": extra or None, "stage2": stage2, "from": start,
                  "train_seconds": [t1.get("train_seconds"), t["train_seconds"]], "gpu": t["gpu"],
                  "gold": t.get("scores"), "engine_reads": s}))
EOF2
    echo "$name done at $((SECONDS - T0)) s"
}

# the variants train side by side: one small model leaves most of the GPU idle
for i in "${!names[@]}"; do
    variant "${names[$i]}" "${args[$i]}" &
done
wait
best=$($PY - "$OUT/variants.jsonl" <<'EOF2'
import json, os, sys
rows = [json.loads(x) for x in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []
keep = os.environ.get("KEEP", "").split()  # only these variants may be kept (default: any)
rows = [r for r in rows if not keep or r["name"] in keep]
# the target's measure first, then the area under HasAns F1 against NoAns; BEST_BY=auc: the area alone
by = ("auc",) if os.environ.get("BEST_BY") == "auc" else ("sentence_contains", "auc")
rows.sort(key=lambda r: tuple(r["engine_reads"][k] for k in by))
print(rows[-1]["name"] if rows else "")
EOF2
)
if [ -n "$best" ]; then
    tar -C "$WORK/$best" -cf - . | split -b 15M - "$OUT/best.tar.part-"
    echo "$best" > "$OUT/best.txt"
    echo "best: $best"
fi
echo "elapsed $((SECONDS - T0)) s"
cat "$OUT/variants.jsonl"
if [ "${THROUGHPUT:-1}" = 1 ] && (( SECONDS - T0 < BUDGET + 60 )); then
    timeout 60 $PY benchmarks/embed_throughput.py --docs "$SRC/data/corpus" --n 20000 --model "$SRC/base" \
        --batch 64 256 512 --out "$OUT/embed_throughput_gpu.json" || echo "embed_throughput failed"
fi
