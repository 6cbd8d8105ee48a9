#!/usr/bin/env bash
# Train the extend Transformer (preset "gpu": 6 layers x 240 wide, 1024-token windows) for at most $MINUTES
# minutes of wall time on cuda (cpu if none). Reads only cache/transformer/data.npz (numpy). Writes to $OUTDIR:
# last.pt (every 30 s and at the end; float16, no optimizer state, ~9 MB), best.pt (lowest held-out NLL), train.log, stdout.log.
set -euo pipefail
MINUTES=${MINUTES:-6}
OUTDIR=${OUTDIR:-cache/gpu_out/transformer}
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
export PYTHONPATH=${PYTHONPATH:-.}
# leave time for start-up (data load ~5 s), the final held-out evaluation and the last save
TRAIN_MIN=$("$PY" -c "import sys; m=float(sys.argv[1]); print(max(0.05, m*0.95 - 0.3))" "$MINUTES")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUTDIR/gpu.txt" 2>/dev/null || true
"$PY" -m deepcomposer_desktop.ml.transformer.train --preset gpu --minutes "$TRAIN_MIN" --out "$OUTDIR" \
    --cache cache/transformer/data.npz --eval-every 30 --slim 2>&1 | tee "$OUTDIR/stdout.log"
