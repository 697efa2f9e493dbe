"""Held-out top-1 curves of CD-KD runs grouped by arm (KD / no KD) and seed:
one JSON with every curve and per-arm summaries, one PNG.

    python benchmarks/cdkd_curves.py --json docs/cdkd_synthetic_curves.json \
        --png docs/cdkd_synthetic_curves.png --teacher runs/teacher \
        KD:0=runs/kd_s0 KD:1=runs/kd_s1 "no KD:0=runs/ce_s0" "no KD:1=runs/ce_s1"

Each run is ``ARM:SEED=WORKDIR`` (a ``jaxar.distill.train`` work directory;
its ``log.jsonl`` is read). ``--teacher DIR`` adds the teacher's own held-out
curve (a ``jaxar.train`` work directory) for reference. Prints a markdown
table: per run the held-out top-1 at every evaluation, final and best; per
arm the mean, min and max over seeds of final and best top-1, and the
per-seed differences between the first two arms (same seed = same
initialisation of the shared parts, data order and augmentation).
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def read_log(workdir: Path) -> list[dict]:
    path = Path(workdir) / "log.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (not a jaxar training work directory?)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def curve(workdir: Path) -> dict:
    """``{"steps", "top1", "top5", "loss"}`` of the eval records (top-1 in %), plus
    the train loss terms when logged."""
    log = read_log(workdir)
    ev = [r for r in log if r["kind"] == "eval"]
    if not ev:
        raise ValueError(f"{workdir}/log.jsonl has no eval records yet")
    by_step = {r["step"]: r for r in ev}              # a resumed run may repeat a step: keep the last
    ev = [by_step[s] for s in sorted(by_step)]
    tr = [r for r in log if r["kind"] == "train"]
    out = {"steps": [r["step"] for r in ev], "top1": [round(100 * r["top1"], 2) for r in ev],
           "top5": [round(100 * r["top5"], 2) for r in ev], "loss": [r["loss"] for r in ev],
           "eval_clips": ev[-1].get("count")}
    terms = {k: [r[k] for r in tr] for k in ("ce", "spatial", "temporal") if tr and k in tr[0]}
    if terms:
        out["train"] = {"steps": [r["step"] for r in tr], **terms}
    out["final_top1"], out["best_top1"] = out["top1"][-1], max(out["top1"])
    return out


def parse_run(item: str) -> tuple[str, str, Path]:
    spec, sep, wd = item.partition("=")
    arm, colon, seed = spec.rpartition(":")
    if not sep or not colon or not arm:
        raise ValueError(f"run {item!r}: expected ARM:SEED=WORKDIR")
    return arm, seed, Path(wd)


def summarise(runs: list[dict]) -> dict:
    arms: dict[str, dict] = {}
    for r in runs:
        a = arms.setdefault(r["arm"], {"seeds": [], "final_top1": [], "best_top1": []})
        a["seeds"].append(r["seed"])
        a["final_top1"].append(r["final_top1"])
        a["best_top1"].append(r["best_top1"])
    for a in arms.values():
        for k in ("final_top1", "best_top1"):
            v = a[k]
            a[f"{k}_mean"] = round(statistics.fmean(v), 2)
            a[f"{k}_min"], a[f"{k}_max"] = min(v), max(v)
    names = list(arms)
    if len(names) >= 2:
        first, second = (arms[n] for n in names[:2])
        common = [s for s in first["seeds"] if s in second["seeds"]]
        diff = {s: round(first["final_top1"][first["seeds"].index(s)]
                         - second["final_top1"][second["seeds"].index(s)], 2) for s in common}
        arms["_paired"] = {"what": f"final top-1 of {names[0]!r} minus {names[1]!r}, same seed",
                           "by_seed": diff}
    return arms


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("runs", nargs="+", help="ARM:SEED=WORKDIR")
    ap.add_argument("--json", required=True, help="JSON file to write")
    ap.add_argument("--png", required=True, help="PNG file to write")
    ap.add_argument("--teacher", help="the teacher's jaxar.train work directory (reference curve)")
    args = ap.parse_args(argv)
    runs = []
    for item in args.runs:
        try:
            arm, seed, wd = parse_run(item)
        except ValueError as e:
            ap.error(str(e))
        runs.append({"arm": arm, "seed": seed, "workdir": str(wd), **curve(wd)})
    result = {"runs": runs, "arms": summarise(runs)}
    if args.teacher:
        result["teacher"] = {"workdir": args.teacher, **curve(Path(args.teacher))}

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    styles = ["-", "--", ":", "-."]
    for r in runs:
        c = colours.setdefault(r["arm"], f"C{len(colours)}")
        seeds = [x["seed"] for x in runs if x["arm"] == r["arm"]]
        ls = styles[seeds.index(r["seed"]) % len(styles)]
        left.plot(r["steps"], r["top1"], ls, color=c, marker="o", ms=3,
                  label=f"{r['arm']} seed {r['seed']}")
        if "train" in r:
            right.plot(r["train"]["steps"], r["train"]["ce"], ls, color=c,
                       label=f"{r['arm']} seed {r['seed']} CE")
            if any(r["train"].get("temporal", [])):
                right.plot(r["train"]["steps"], r["train"]["temporal"], ls, color=c, alpha=0.45,
                           label=f"{r['arm']} seed {r['seed']} L_temporal")
    if args.teacher:
        t = result["teacher"]
        left.plot(t["steps"], t["top1"], color="grey", alpha=0.6, label="teacher (raw frames)")
    left.set(xlabel="step", ylabel="held-out top-1 (%)", title="held-out top-1", ylim=(0, 100))
    right.set(xlabel="step", ylabel="train loss (window mean)", title="train CE and L_temporal")
    left.legend(fontsize=7)
    right.legend(fontsize=6)
    fig.tight_layout()
    from jaxar.runtime.files import atomic_open, atomic_write_json
    with atomic_open(args.png, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    atomic_write_json(args.json, result)

    steps = runs[0]["steps"]
    print("| arm | seed | held-out top-1 at steps " + " / ".join(map(str, steps)) + " | final | best |")
    print("|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['arm']} | {r['seed']} | " + " / ".join(f"{v:.1f}" for v in r["top1"])
              + f" | **{r['final_top1']:.1f} %** | {r['best_top1']:.1f} % |")
    for name, a in result["arms"].items():
        if name != "_paired":
            print(f"{name}: final mean {a['final_top1_mean']:.2f} (min {a['final_top1_min']}, max "
                  f"{a['final_top1_max']}), best mean {a['best_top1_mean']:.2f}")
    if "_paired" in result["arms"]:
        print(result["arms"]["_paired"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
