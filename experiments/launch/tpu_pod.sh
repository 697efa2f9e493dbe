#!/bin/bash
# Training on a Cloud TPU pod slice (several TPU-VM hosts): the same command
# on every worker; JAX detects the pod in jax.distributed.initialize() (called
# by jaxar.train when TPU_WORKER_HOSTNAMES lists several hosts).
#
#   experiments/launch/tpu_pod.sh my-tpu us-central2-b experiments/ntu60_xsub.py /mnt/runs/ntu60_xsub
#
# Assumes the repository and its requirements are installed on every worker
# (pip install -r requirements.txt -e . jax[tpu]==0.10.2) at ~/jaxar, the TFDS data
# readable at $TFDS_DATA_DIR (a gs:// bucket works for the data) and the work
# directory on a filesystem shared by all workers (e.g. Filestore or a
# gcsfuse-mounted bucket): the training logs are written with plain file I/O.
set -euo pipefail
TPU=${1:?usage: tpu_pod.sh TPU_NAME ZONE CONFIG WORKDIR [--config.KEY=VALUE ...]}
ZONE=${2:?}
CONFIG=${3:?}
WORKDIR=${4:?}
shift 4
gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command \
  "cd ~/jaxar && python -m jaxar.train --config $CONFIG --workdir $WORKDIR \
   --config.data.data_dir=${TFDS_DATA_DIR:-gs://my-bucket/tfds} $*"
