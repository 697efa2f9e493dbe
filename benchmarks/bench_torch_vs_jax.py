"""jaxar's CPU training step against the same network in PyTorch eager (not a test).

    pip install -r requirements-bench.txt          # torch, CPU wheel (benchmark-only)
    python benchmarks/bench_torch_vs_jax.py        # x3d_ugt, train 2x16x112^2, shifted vs torch
    python benchmarks/bench_torch_vs_jax.py --impls shifted lowered shifted-original \\
        --threads 2 --repeats 5 --eval --json torch_vs_jax.json

One training step = forward and backward of the mean cross-entropy in train
mode (batch statistics, dropout) on the same batch with the same weights:
jaxar's jitted ``value_and_grad`` from ``bench_formulations.build`` (``--impls``
takes its formulation names: ``shifted``, ``lowered``, ``conv3d``, ``auto``,
``shifted-original`` = the ``shifted`` step before the chunk-summed kernel
gradients and the shift order change, ...) against
``jaxar/weights/torch_x3d_ugt.py`` (PyTorch eager, NCTHW, grouped ``nn.Conv3d``,
``nn.BatchNorm3d``; ``zero_grad``, forward, ``cross_entropy``, ``backward``, no
optimiser step on either side) loaded with jaxar's initial weights.
``--eval`` adds the inference forward of one clip (1x16x224^2 by default,
running statistics; torch under ``no_grad``).

Threads: ``--threads N`` pins the process to N CPUs (``sched_setaffinity``, when
the machine has more), calls ``torch.set_num_threads(N)`` and sets
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=... intra_op_parallelism_threads=N``
(jax 0.10.2's XLA accepts both flags, but they did not change the threads it
starts; the CPU affinity did: 17 threads with 2 schedulable CPUs, 13 with 1, so
on a machine with more cores than ``N`` the affinity is what makes XLA use ``N``;
with ``N`` = all cores both frameworks simply get every core). The first lines
report what each framework was given, and the load average: run it on an
otherwise idle machine. With ``N`` OpenMP threads on ``N`` busy cores torch
eager slows down far more than XLA (every op ends in a barrier that waits for a
descheduled thread): on a 2-core machine with one core taken by another job,
the tiny model's eval forward took 1.6 s per clip with 2 threads against
0.02 s with 1.

Everything is compiled and warmed up first; then the timed calls are
interleaved (A, B, ..., torch, A, B, ..., torch) so load changes on a shared
machine hit every entry alike. Each line gives the median and minimum seconds
per clip over ``--repeats`` calls, the median process CPU time per clip (all
threads), and the ratio to torch; a last line gives the wall-time ratio of
every pair. A sanity line first compares the two networks' train-mode logits and
loss on the benchmark's input (dropout off: its masks differ between frameworks)
and, with ``--eval``, the eval logits.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time



def _limit_threads(n: int) -> dict:
    """Pins this process to ``n`` CPUs and sets XLA's thread flags; call before
    jax or torch is imported. Returns what was done, for the report."""
    info = {"threads": n, "cpus_visible": os.cpu_count()}
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        if n < len(cpus):
            os.sched_setaffinity(0, cpus[:n])
        info["affinity"] = sorted(os.sched_getaffinity(0))
    flags = (f"--xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'} "
             f"intra_op_parallelism_threads={n}")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    info["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="x3d_ugt")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--impls", nargs="+", default=["shifted"],
                    help="jaxar formulations (benchmarks/bench_formulations.py names)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--eval", action="store_true", help="also time the eval forward")
    ap.add_argument("--eval-batch", type=int, default=1)
    ap.add_argument("--eval-size", type=int, default=224)
    ap.add_argument("--torch-shift-first", action="store_true",
                    help="torch blocks shift their input before the pre-depthwise conv "
                         "(same maths; default: shift its output, as jaxar's shifted does)")
    ap.add_argument("--no-check", action="store_true", help="skip the agreement (sanity) lines")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if min(args.batch, args.frames, args.size, args.threads, args.repeats, args.eval_batch,
           args.eval_size) < 1:
        ap.error("sizes, --threads and --repeats must be >= 1")
    threads = _limit_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    threads["load_average_1min"] = load

    import jax
    import torch

    from jaxar.weights import torch_x3d_ugt as tref
    from bench_formulations import VARIANTS
    bad = [i for i in args.impls if i not in VARIANTS]
    if bad:
        ap.error(f"unknown --impls {bad}; choose from {list(VARIANTS)}")
    torch.set_num_threads(args.threads)
    tref.UIB3D.shift_first = args.torch_shift_first
    threads.update(torch_intra_op=torch.get_num_threads(), torch_interop=torch.get_num_interop_threads())
    dev = jax.devices()[0]
    print(f"jax {jax.__version__} ({dev.platform}), torch {torch.__version__}; "
          f"{threads['cpus_visible']} CPUs visible, affinity {threads.get('affinity')}; "
          f"XLA_FLAGS='{threads['XLA_FLAGS']}'; torch threads {threads['torch_intra_op']} "
          f"intra-op / {threads['torch_interop']} inter-op; load average {load:.2f}", flush=True)
    if load > 0.5:
        print(f"  WARNING: load average {load:.2f} before start: other processes share the CPUs. "
              f"torch's OpenMP threads wait on each other at every op, so it slows down far more "
              f"than XLA under outside load; time on an otherwise idle machine.", flush=True)

    results, checks = [], []
    modes = [("train", args.batch, args.size)] + ([("eval", args.eval_batch, args.eval_size)]
                                                  if args.eval else [])
    for mode, batch, size in modes:
        rows, check = run_shape(args, mode, batch, size)
        results += rows
        checks.append(check)
    if args.json:
        from jaxar.runtime.files import atomic_write_json
        atomic_write_json(args.json, {"device": dev.platform, "jax": jax.__version__,
                                      "torch": torch.__version__, "variant": args.variant,
                                      "threads": threads, "torch_shift_first": args.torch_shift_first,
                                      "checks": checks, "results": results})
    return 0


def run_shape(args, mode: str, batch: int, size: int) -> tuple[list[dict], dict]:
    import jax
    import numpy as np
    import torch
    import torch.nn.functional as F

    from jaxar.weights import torch_x3d_ugt as tref
    from bench_formulations import build, pairwise_ratios, time_interleaved
    from jaxar.registry import create_config

    frames, shape = args.frames, f"{batch}x{args.frames}x{size}^2"
    built = {}
    for name in args.impls:
        built[name] = build(args.variant, name, mode, frames, size, batch)
        print(f"  compiled {mode} {name} ({built[name][2]:.1f} s incl. first call)", flush=True)
    jargs = built[args.impls[0]][1]
    if mode == "train":
        variables, x, y = {"params": jargs[0], "batch_stats": jargs[1]}, jargs[2], jargs[3]
    else:
        variables, x, y = jargs[0], jargs[1], None
    cfg = create_config(args.variant, frames=frames, size=size)
    model = tref.from_config(cfg, variables)
    xt = tref.to_ncthw(x)

    if mode == "train":
        yt = torch.from_numpy(np.array(y)).long()
        model.train()

        def torch_step():
            model.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xt), yt)
            loss.backward()
            return loss
    else:
        model.eval()

        def torch_step():
            with torch.no_grad():
                return model(xt)

    check = {"mode": mode} if args.no_check else agreement(args, mode, cfg, model, variables, x, y,
                                                           built[args.impls[0]])
    t0 = time.perf_counter()
    torch_step()
    first = time.perf_counter() - t0
    torch_step()                                           # warm-up (allocator, oneDNN primitives)
    print(f"  torch eager {mode}: first call {first:.1f} s", flush=True)

    names = list(args.impls) + ["torch"]
    calls = {name: (lambda fn=built[name][0], a=built[name][1]: jax.block_until_ready(fn(*a)))
             for name in args.impls}
    calls["torch"] = torch_step
    times, cpu = time_interleaved(calls, args.repeats, batch)
    med = {n: statistics.median(times[n]) for n in names}
    rows = []
    for n in names:
        r = {"mode": mode, "impl": n, "frames": frames, "size": size, "batch": batch,
             "median_s_per_clip": med[n], "min_s_per_clip": min(times[n]),
             "median_cpu_s_per_clip": statistics.median(cpu[n]),
             "ratio_to_torch": med[n] / med["torch"], "runs": args.repeats,
             "first_call_s": first if n == "torch" else built[n][2]}
        rows.append(r)
        label = "torch-eager" if n == "torch" else f"jaxar-{n}"
        print(f"{args.variant} {mode} {shape} {label:>24}: median {med[n]:.3f} s/clip, min "
              f"{r['min_s_per_clip']:.3f}, cpu {r['median_cpu_s_per_clip']:.3f} s/clip, "
              f"x{r['ratio_to_torch']:.3f} of torch ({args.repeats} interleaved runs)", flush=True)
    print(f"  wall-time ratios ({mode} {shape}): " + pairwise_ratios(med), flush=True)
    return rows, check


def agreement(args, mode, cfg, model, variables, x, y, first_built) -> dict:
    """Max logit difference (and the loss of both, train mode) on the benchmark input.

    Train: a train-mode forward with dropout off on both sides (a separate jaxar
    program, compiled cheaply); eval: the first jaxar entry's own output."""
    import jax
    import numpy as np
    import optax
    import torch
    import torch.nn.functional as F

    from jaxar.weights import torch_x3d_ugt as tref
    from jaxar.initialization import fast_compile_options

    xt = tref.to_ncthw(x)
    if mode == "eval":
        want = np.asarray(first_built[0](*first_built[1]))
        with torch.no_grad():
            got = model(xt).numpy()
        out = {"mode": mode, "max_abs_logit_diff": float(np.abs(got - want).max()),
               "max_abs_logit": float(np.abs(want).max())}
        print(f"  check eval: max |logit diff| {out['max_abs_logit_diff']:.2e} "
              f"(max |logit| {out['max_abs_logit']:.2e})", flush=True)
        return out
    jm = cfg.replace(dropout=0.0, impl="lowered").build()

    def fwd(v, x, y):
        logits, _ = jm.apply(v, x, train=True, mutable=["batch_stats"])
        return logits, optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    t0 = time.perf_counter()
    logits, loss = jax.jit(fwd, compiler_options=fast_compile_options())(variables, x, y)
    twin = copy.deepcopy(model)            # its BN buffers move; the timed model's do not
    twin.dropout.p = 0.0
    twin.train()
    with torch.no_grad():
        tl = twin(xt)
        tloss = F.cross_entropy(tl, torch.from_numpy(np.array(y)).long()).item()
    want, got = np.asarray(logits), tl.numpy()
    out = {"mode": mode, "max_abs_logit_diff": float(np.abs(got - want).max()),
           "max_abs_logit": float(np.abs(want).max()), "loss_jax": float(loss), "loss_torch": tloss}
    print(f"  check train (dropout off): max |logit diff| {out['max_abs_logit_diff']:.2e} "
          f"(max |logit| {out['max_abs_logit']:.2e}), loss jaxar {out['loss_jax']:.6f} torch "
          f"{tloss:.6f} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
