#!/usr/bin/env bash
# AR-CNN training on the GPU machine. Run from the repo root:
#   MINUTES=6 OUTDIR=/some/dir bash cache/gpu/arcnn.sh
# PRESET=gpu-gaps trains the proposed variant with whole-beat gaps (not yet run).
# Reads only cache/arcnn/chorales.npz (numpy; no mido/music21 needed). Trains for MINUTES of wall time in all
# (start-up and the final checkpoint included), writes OUTDIR/best.pt, OUTDIR/last.pt (float16 weights, ~5 MB
# each, written every 500 steps and at the end) and OUTDIR/train.log. Falls back to the CPU without CUDA.
set -euo pipefail
MINUTES="${MINUTES:-6}"
OUTDIR="${OUTDIR:-cache/gpu_out/arcnn}"
PY="${PYTHON:-python3}"
mkdir -p "$OUTDIR"
# keep ~30 s for imports, CUDA start-up, the last validation pass and checkpoint
TRAIN_MIN="$("$PY" -c "import sys; m=float(sys.argv[1]); print(max(0.05, m - 0.5 if m > 1 else m * 0.6))" "$MINUTES")"
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}."
export PYTHONUNBUFFERED=1
"$PY" -m deepcomposer_desktop.ml.arcnn.train --preset "${PRESET:-gpu}" --out "$OUTDIR" --minutes "$TRAIN_MIN" \
    --cache cache/arcnn --no-optimizer-state --half 2>&1 | tee -a "$OUTDIR/stdout.log"
