#!/usr/bin/env bash
# GAN training for the shared GPU run (copied to cache/gpu/gan.sh). From the repo root:
#   MINUTES=6 OUTDIR=/some/dir PYTHONPATH=. bash cache/gpu/gan.sh
# Trains, in parallel processes within $MINUTES of wall time: the DeepComposer baseline (AWS's 229 JSB
# snippets), and our model for every cache/gan/<genre>.npz (7 processes for 6 genres).
# Uses cuda when available, else cpu. Checkpoints (gan-*.pt) and logs (*.log) go to $OUTDIR.
set -u
MINUTES="${MINUTES:-6}"
OUTDIR="${OUTDIR:-cache/gpu_out/gan}"
PY="${PYTHON:-python3}"
mkdir -p "$OUTDIR"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -m deepcomposer_desktop.ml.gan.gpu_run --minutes "$MINUTES" --outdir "$OUTDIR" --cache-dir cache/gan \
    2>&1 | tee "$OUTDIR/gan_run.log"
