#!/usr/bin/env bash
# Build a Python 3.11 environment with nuplan-devkit and dask_runner side by side, for tests/nuplan.
#
#   scripts/make_nuplan_env.sh NUPLAN_DEVKIT_CHECKOUT ENV_DIR [NAVSIM_CHECKOUT] [TUPLAN_GARAGE_CHECKOUT]
#   DASK_RUNNER_NUPLAN_PYTHON=ENV_DIR/bin/python DASK_RUNNER_NUPLAN_DEVKIT=NUPLAN_DEVKIT_CHECKOUT \
#       [DASK_RUNNER_NAVSIM=NAVSIM_CHECKOUT] [DASK_RUNNER_TUPLAN_GARAGE=TUPLAN_GARAGE_CHECKOUT] \
#       .venv/bin/python -m pytest tests/nuplan
#
# nuPlan's own pins do not install on Python 3.11; these versions run its simulation and metric scripts
# (numpy 1.x: numpy 2 breaks nuPlan's LQR tracker; bokeh 2.4 and matplotlib < 3.9: its summary
# callback and nuBoard). dask_runner goes in with only its slurm extra (dask-jobqueue), as a nuPlan user on SLURM installs it. NAVSIM (optional, a
# checkout of its git repository) goes in like nuplan-devkit, without its pins (torch 2.0, numpy 1.23), with the
# few packages of its own that its scripts import. tuplan_garage (optional, a checkout; pass "" for NAVSIM to skip it)
# goes in the same way, without its pins (nuplan-devkit==1.2.2, scikit-learn==1.2.2).
set -euo pipefail
devkit=${1:?usage: $0 NUPLAN_DEVKIT_CHECKOUT ENV_DIR}
env_dir=${2:?usage: $0 NUPLAN_DEVKIT_CHECKOUT ENV_DIR}
navsim=${3:-}
tuplan_garage=${4:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
python3.11 -m venv "$env_dir"
pip="$env_dir/bin/pip"
"$pip" install --quiet --upgrade pip wheel "setuptools<81"
"$pip" install --quiet torch==2.13.0
"$pip" install --quiet "numpy==1.26.4" "pandas>=2.2,<2.4" "pyarrow<=20" "hydra-core==1.3.8" "omegaconf==2.3.1" \
    "geopandas>=1.0,<1.2" "opencv-python-headless==4.11.0.86" "pytorch-lightning>=2.4,<2.7" rasterio pyquaternion \
    retry ujson aioboto3 boto3 tensorboard pyinstrument pytest "bokeh==2.4.3" "matplotlib<3.9" shapely scipy rtree \
    psutil tqdm cachetools casadi control sympy "SQLAlchemy<2" typer requests s3fs ray guppy3 joblib Pillow \
    nest_asyncio selenium tornado mock moto hypothesis Fiona pyogrio
"$pip" install --quiet --no-deps -e "$devkit"
if [ -n "$navsim" ]; then
    "$pip" install --quiet "scikit-learn>=1.2" "positional-encodings==6.0.1" timm
    "$pip" install --quiet --no-deps -e "$navsim"
fi
if [ -n "$tuplan_garage" ]; then
    "$pip" install --quiet "scikit-learn>=1.2" "positional-encodings==6.0.1"
    "$pip" install --quiet --no-deps -e "$tuplan_garage"
fi
"$pip" install --quiet -e "$repo[slurm]"
echo "nuPlan environment ready: $env_dir/bin/python"
