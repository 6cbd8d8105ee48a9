#!/usr/bin/env bash
# One time-boxed GPU run for the DeepComposer baselines (the model cards' baseline columns), from the repo root:
#   MINUTES=6 OUT=/some/dir bash deepcomposer_desktop/ml/gan/gpu_baselines.sh
# In parallel processes: the AWS sample-GAN recipe on AWS's 229 two-bar JSB snippets, the same recipe on the
# rock, jazz, symphony and folk caches (cache/gan/<genre>.npz, from `python -m deepcomposer_desktop.ml.data.build`),
# and two longer runs of our jazz model from models/gan-jazz.pt (WGAN-GP + reconstruction; reconstruction only).
# Training and the final decoding fit end within MINUTES; then each baseline is scored on 100 held-out windows
# (evaluate --json, as the cards' --baseline-json reads). Models, logs and scores land in OUT.
# DEV=cpu runs it (slowly) without a GPU; EVT bounds each scoring run (s). Measured: one H100, 6 minutes,
# ~3 recipe iterations/s per process (1 000 of the recipe's 2 000), 366 s in all.
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
if ls .whl/*.whl >/dev/null 2>&1 && ! python3 -c "import mido" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
PY=${PY:-python3}
M=${MINUTES:-6}; DEV=${DEV:-auto}; W=/tmp/gan_baselines; rm -rf $W; mkdir -p $W/logs
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
$PY -c "import torch, numpy, mido; print('torch', torch.__version__, torch.cuda.is_available(), 'numpy', numpy.__version__)"
t0=$(date +%s); dl=$(( t0 + ${M%.*} * 60 - 40 ))
run() { # name data preset extra...
  local n=$1 d=$2 p=$3; shift 3
  $PY -m deepcomposer_desktop.ml.gan.train --data "$d" --name "$n" --out $W --preset "$p" --minutes "$M" --no-state \
     --samples 0 --checkpoint-seconds 60 --threads 1 --device $DEV --deadline $dl "$@" > $W/logs/$n.log 2>&1 &
}
run baseline-aws cache/gan/chorale_aws2bar.npz deepcomposer
for g in rock jazz symphony folk; do run baseline-$g cache/gan/$g.npz deepcomposer; done
run jazz-gan cache/gan/jazz.npz default --init models/gan-jazz.pt
run jazz-bce cache/gan/jazz.npz default --init models/gan-jazz.pt --adv-weight 0 --lr 3e-4
copy() { for f in $W/gan-*.pt; do [ -f "$f" ] && cp "$f" $OUT/ 2>/dev/null; done; cp $W/*.log $W/logs/ 2>/dev/null; tar -C $W -cf $OUT/logs.tar.part logs && mv $OUT/logs.tar.part $OUT/logs.tar; }
while [ -n "$(jobs -rp)" ]; do sleep 20; copy; echo "$(( $(date +%s) - t0 )) s: $(ls $W/*.pt 2>/dev/null | wc -l) models; $(tail -c 120 $W/logs/baseline-aws.log | tr '\r\n' '  ')"; done
echo "training done at $(( $(date +%s) - t0 )) s"
ev() { timeout ${EVT:-150} $PY -m deepcomposer_desktop.ml.gan.evaluate --cache "$1" --model "$2" --limit 100 --json "$3" > "$3.txt" 2>&1 & }
for g in rock jazz symphony folk; do ev cache/gan/$g.npz recipe=$W/gan-baseline-$g.pt $W/logs/eval-baseline-$g.json; done
for g in chorale pop rock jazz symphony folk; do ev cache/gan/$g.npz aws=$W/gan-baseline-aws.pt $W/logs/eval-aws-$g.json; done
ev cache/gan/jazz.npz gan=$W/gan-jazz-gan.pt $W/logs/eval-jazz-gan.json
ev cache/gan/jazz.npz bce=$W/gan-jazz-bce.pt $W/logs/eval-jazz-bce.json
wait; copy; ls -la $OUT; echo "all done at $(( $(date +%s) - t0 )) s"
