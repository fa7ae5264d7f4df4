#!/usr/bin/env bash
# The main job: SAIS R50 trained on fruits_nuts (train.json) and evaluated on
# its val split with tools/test.py --eval bbox segm.
#   bash tools/run_main.sh [CONFIG]
# A finished run in the work_dir is reused (its final checkpoint is tested
# again); delete the work_dir to train anew.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${ZOO_VENV:-$ROOT/.venv}/bin/python"
CONFIG=${1:-configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py}
NAME=$(basename "$CONFIG" .py)
WORK=work_dirs/$NAME
MAX_ITERS=$("$PY" -c "from mmengine.config import Config; print(Config.fromfile('$CONFIG').train_cfg.max_iters)")
CKPT=$WORK/iter_$MAX_ITERS.pth
START=$(date +%s)
if [ -f "$CKPT" ]; then
    echo "[main] $CKPT exists: skipping training"
else
    echo "[main] training $CONFIG for $MAX_ITERS iterations into $WORK"
    "$PY" tools/train.py "$CONFIG" --work-dir "$WORK"
fi
TRAINED=$(date +%s)
echo "[main] testing $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --eval bbox segm
END=$(date +%s)
echo "[main] train $((TRAINED - START)) s, test $((END - TRAINED)) s"
# the AP just measured beside the committed run's (configs/*/metafile.yml)
METRICS=$(ls -t "$WORK"/*/test_metrics.json | head -1)
"$PY" tools/misc/reproduced.py "$CONFIG" "$METRICS"
