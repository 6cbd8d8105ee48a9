#!/usr/bin/env bash
# GPU run (carry cache/ and .whl): trains every technique whose ml/<t>/gpu_train.sh exists, in parallel, for $MINUTES; tars results into $OUT.
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/mido*.whl && export PYTHONPATH=/tmp/site:$PWD
export PYTHONPATH=${PYTHONPATH:-$PWD}
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, numpy, mido; print('torch', torch.__version__, torch.cuda.is_available(), 'numpy', numpy.__version__)"
M=${MINUTES:-6}
pids=()
for t in ${TECHS:-gan arcnn transformer}; do
  if [[ -f deepcomposer_desktop/ml/$t/gpu_train.sh ]]; then
    mkdir -p /tmp/out/$t
    (MINUTES=$M OUTDIR=/tmp/out/$t bash deepcomposer_desktop/ml/$t/gpu_train.sh > /tmp/out/$t/run.log 2>&1; echo "exit $?" >> /tmp/out/$t/run.log) &
    pids+=($!)
    echo "started $t"
  fi
done
# tar periodically so a timeout still returns the latest checkpoints
( while true; do sleep 60; for t in /tmp/out/*; do tar -C /tmp/out -cf $OUT/$(basename $t).tar.part $(basename $t) && mv $OUT/$(basename $t).tar.part $OUT/$(basename $t).tar; done; done ) &
tarpid=$!
wait "${pids[@]}"
kill $tarpid 2>/dev/null
for t in /tmp/out/*; do tar -C /tmp/out -cf $OUT/$(basename $t).tar $(basename $t); tail -5 $t/run.log; done
ls -la $OUT
