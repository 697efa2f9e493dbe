"""Data parallelism with ``jit`` over a 1-D device mesh (no ``pmap``).

The pattern is the classic one (a replica of the state per device, gradients
all-reduced, BatchNorm statistics synchronised), written the current way:

* one mesh axis ``"data"`` over *all* devices of *all* processes;
* the train state is replicated (``NamedSharding(mesh, P())``);
* the global batch is sharded on its leading axis (``P("data")``): each
  device holds ``global_batch / num_devices`` clips;
* the train step is an ordinary ``jax.jit`` function. XLA's SPMD partitioner
  inserts the all-reduce of the gradients (the loss is a mean over the global
  batch) and of the BatchNorm batch moments (a mean over a sharded axis), so
  one step on N devices computes the same numbers as one step on one device
  with the whole batch (up to float reduction order).

The same code runs on 1 CPU, N GPUs, a TPU slice, and multiple hosts: on a
multi-host run call :func:`initialize_distributed` first; every process then
feeds its own ``global_batch / process_count`` clips
(:func:`host_batch_to_global`).
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"

def initialize_distributed(force: bool | None = None) -> None:
    """Calls ``jax.distributed.initialize()`` when launched as several processes.

    ``force=None`` decides from the environment: an explicit coordinator
    (``JAX_COORDINATOR_ADDRESS`` plus ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``), a SLURM job with more than one task, an Open MPI
    world, or a multi-worker TPU pod (JAX auto-detects the last three).
    Single-process runs (one CPU, one machine with N GPUs) skip it. Must run
    before any other JAX call.
    """
    env = os.environ
    if force is None:
        force = (bool(env.get("JAX_COORDINATOR_ADDRESS"))
                 or int(env.get("SLURM_NTASKS", "1")) > 1
                 or int(env.get("OMPI_COMM_WORLD_SIZE", "1")) > 1
                 or "," in env.get("TPU_WORKER_HOSTNAMES", ""))
    if not force:
        return
    kwargs = {}
    if env.get("JAX_NUM_PROCESSES"):
        kwargs["num_processes"] = int(env["JAX_NUM_PROCESSES"])
    if env.get("JAX_PROCESS_ID"):
        kwargs["process_id"] = int(env["JAX_PROCESS_ID"])
    jax.distributed.initialize(**kwargs)


def make_mesh(num_devices: int | None = None) -> Mesh:
    """1-D ``("data",)`` mesh over the first ``num_devices`` global devices (all by default)."""
    devices = jax.devices()
    if num_devices is not None:
        if not 1 <= num_devices <= len(devices):
            raise ValueError(f"num_devices={num_devices}: must be in 1..{len(devices)} "
                             f"(available: {len(devices)} {devices[0].platform} devices)")
        if num_devices != len(devices) and jax.process_count() > 1:
            raise ValueError("num_devices can only restrict the mesh on a single-process run")
        devices = devices[:num_devices]
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA_AXIS))


def check_global_batch(global_batch: int, mesh: Mesh, what: str = "batch_size") -> int:
    """Returns the per-process batch; raises if ``global_batch`` does not split
    evenly over the mesh's devices (and hence over processes)."""
    n = mesh.devices.size
    if global_batch < 1 or global_batch % n:
        raise ValueError(
            f"{what}={global_batch} is the global batch and must be a positive multiple of "
            f"the number of devices ({n} {mesh.devices.flat[0].platform} devices over "
            f"{jax.process_count()} process(es)); e.g. use {max(n, (global_batch // n) * n)}")
    return global_batch // jax.process_count()


def replicate(tree, mesh: Mesh):
    """Places a host pytree (numpy / jax arrays) replicated on every mesh device."""
    return jax.device_put(tree, replicated(mesh))


def host_batch_to_global(batch: dict, mesh: Mesh) -> dict:
    """This process's slice of the global batch (numpy, leading axis
    ``global_batch / process_count``) -> global ``jax.Array``s sharded over
    ``"data"``. Every process must call it with its own, equally sized slice.
    """
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in batch.items()}
