#!/usr/bin/env bash
# One idempotent set-up step for the zoo on a CPU machine.
#   bash tools/setup.sh          (ZOO_VENV=/path to put the venv elsewhere)
# 1. virtual environment at $ZOO_VENV (default: .venv in the repo root);
# 2. build prerequisites first: torch (pinned CPU wheel), setuptools<81
#    (mmcv's setup.py needs pkg_resources), wheel, ninja;
# 3. mmcv 2.1.0 from source with its CPU ops (MMCV_WITH_OPS=1,
#    --no-build-isolation); pip caches the wheel, later installs are instant;
# 4. the project in editable mode (mmdet 3.3.0, mmengine 0.10.7, ...);
# 5. data/ -> ../shared/data when that folder exists (beside the checkout
#    or beside the local repository it was cloned from);
# 6. the offline self-supervised ResNet-50 init for the small-data configs.
# A second run finds a stamp matching setup.py and this script and skips 2-4.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${ZOO_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
T0=$(date +%s)
say() { echo "[setup $(( $(date +%s) - T0 ))s] $*"; }

if [ ! -x "$PY" ]; then
    say "creating virtual environment at $VENV"
    python3 -m venv "$VENV"
fi
STAMP="$VENV/.zoo-setup-stamp"
WANT=$(cat setup.py tools/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && \
   "$PY" -c "import torch, mmcv, mmdet, mmengine, mmcv.ops, projects" 2>/dev/null; then
    say "environment at $VENV is up to date (delete $STAMP to reinstall)"
else
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    say "installing build prerequisites: torch==2.13.0 (CPU), setuptools<81, wheel, ninja"
    "$PY" -m pip install -q torch==2.13.0 'setuptools>=77,<81' wheel ninja
    if "$PY" -c "import mmcv.ops, mmcv; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
        say "mmcv 2.1.0 with ops already installed"
    else
        say "building mmcv 2.1.0 with CPU ops (about 15 minutes on 2 cores the first time; pip caches the wheel)"
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "$PY" -m pip install -q \
            --no-build-isolation mmcv==2.1.0
    fi
    say "installing the zoo in editable mode (mmdet 3.3.0, mmengine 0.10.7, pycocotools, ...)"
    "$PY" -m pip install -q --no-build-isolation -e ".[tests]"
    "$PY" -c "import torch, mmcv, mmcv.ops, mmdet, mmengine, projects; \
print('torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', \
mmdet.__version__, '| mmengine', mmengine.__version__)"
    echo "$WANT" > "$STAMP"
fi

# ../shared/data beside the checkout, else beside the local repository it
# was cloned from (a clone made elsewhere, e.g. /tmp, of a checkout that has
# it); never copied
SHARED="$ROOT/../shared/data"
ORIGIN=$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)
if [ ! -d "$SHARED" ] && [ -n "$ORIGIN" ] && [ -d "$ORIGIN/../shared/data" ]; then
    SHARED=$(cd "$ORIGIN/../shared/data" && pwd)
fi
if [ -d "$SHARED" ] && [ ! -e "$ROOT/data" ]; then
    ln -s "$SHARED" "$ROOT/data"
    say "linked data -> $SHARED"
elif [ -e "$ROOT/data" ]; then
    say "data/ present ($(ls "$ROOT/data" | tr '\n' ' '))"
else
    say "no ../shared/data here: put datasets under data/ (see docs/datasets.md)"
fi

INIT="$ROOT/checkpoints/resnet50_augnet_selfsup.pth"
if [ -f "$INIT" ]; then
    say "offline init present: ${INIT#$ROOT/}"
else
    say "fetching the self-supervised AugNet ResNet-50 (imgsim==0.1.2 wheel) for small-data runs"
    TMP=$(mktemp -d)
    if "$PY" -m pip download -q --no-deps -d "$TMP" imgsim==0.1.2; then
        "$PY" -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('imgsim/model.pth', sys.argv[2])" \
            "$TMP"/imgsim-0.1.2-*.whl "$TMP"
        mkdir -p "$ROOT/checkpoints"
        "$PY" tools/model_converters/torchvision_resnet.py \
            "$TMP/imgsim/model.pth" "$INIT" --prefix module.pre.
    else
        say "could not fetch imgsim==0.1.2: small-data configs will start from random init"
    fi
    rm -rf "$TMP"
fi
say "done"
