"""Benchmark: does a preset learn real edits that keep the person, and how does that depend on the
share of labels?

    python scripts/bench_learning.py [--data_dir DIR --preset NAME] [--shares 1 0.05 0.01]
                                     [--root train_log_bench_learning] [--out bench_learning.json]
                                     [--seed 1234] [-- extra main.py flags]

Without --data_dir it runs the demo (`main.py --demo`); with it, the given data folder and preset
(e.g. `--data_dir data/UTKFace --preset utkface_real`). Trains the attribute classifier once on the
real training faces (every label), then for each label share, one after the other, trains the
model (seeded) with that share of labelled training images (5%: --labelled 0.05
--oversample_times 10; 1%: --labelled 0.01 --oversample_times 50, the paper's ratios of
oversampling), tests it on the test split, and reads the figures from metrics.json: per output
the classifier's success where a change is needed and preservation, and the classifier-free
identity share, spread ratio and L1. Prints one table per share and saves them as JSON. No test
asserts its figures; wall times are of the training runs alone, on whatever else the machine runs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sggan.files import write_json  # noqa: E402

OVERSAMPLE = {0.05: 10, 0.01: 50}  # as the paper's presets: about as many labelled entries as unlabelled


def label_flags(share):
    if share >= 1:
        return []
    times = OVERSAMPLE.get(share, int(round(0.5 / share)))
    return ["--labelled", str(share), "--oversample_times", str(times)]


def main_py(data, *argv):
    """Run main.py on `data` (its data flags); stops the benchmark with main.py's error if it fails."""
    command = [sys.executable, os.path.join(ROOT, "main.py"), *data, *map(str, argv)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


FIGURES = ("success_needed", "preservation", "identity", "spread_ratio", "l1", "collapsed", "identity_lost")


def row(share, exp_dir, seconds):
    report = json.load(open(os.path.join(exp_dir, "test", "metrics.json")))
    outputs = report["classifier"]["outputs"]
    return {"share": share, "train_seconds": round(seconds, 1), "summary": report["classifier"]["summary"],
            "outputs": {name: {k: f[k] for k in FIGURES} for name, f in outputs.items()}}


def table(row):
    """One share's table: a line per output (classifier's success where needed and preservation;
    identity, spread and L1 need no classifier), then the training time."""
    minutes, seconds = divmod(int(row["train_seconds"]), 60)
    lines = [f"labels {row['share']:.0%}, trained in {minutes} min {seconds:02d} s",
             "| output | success where needed | preservation | identity | spread | L1 | collapsed |",
             "|---|---|---|---|---|---|---|"]
    for name, f in row["outputs"].items():
        lines.append(f"| {name} | {f['success_needed']:.3f} | {f['preservation']:.3f} | {f['identity']:.3f} | "
                     f"{f['spread_ratio']:.2f} | {f['l1']:.3f} | {'yes' if f['collapsed'] else 'no'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", help="a data folder (default: the demo faces)")
    parser.add_argument("--preset", help="the config.py preset to train with --data_dir")
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 0.05, 0.01])
    parser.add_argument("--root", default=os.path.join(ROOT, "train_log_bench_learning"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench_learning.json"))
    parser.add_argument("--seed", type=int, default=1234)
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    data = ["--data_dir", args.data_dir] + (["--preset", args.preset] if args.preset else []) if args.data_dir \
        else ["--demo"]
    judge_dir = os.path.join(args.root, "classifier_only")
    started = time.time()
    main_py(data, "--mode", "classifier", "--exp_dir", judge_dir, "--seed", args.seed, *extra)
    judge_report = json.load(open(os.path.join(judge_dir, "classifier.json")))
    accuracy = {k: judge_report[k] for k in ("accuracy", "balanced_accuracy", "per_class_accuracy") if k in judge_report}
    print(f"classifier trained in {time.time() - started:.0f} s; accuracy on the real test faces: {accuracy}",
          flush=True)
    rows = []
    for share in args.shares:
        exp_dir = os.path.join(args.root, f"labels_{share:g}")
        shutil.rmtree(exp_dir, ignore_errors=True)
        shutil.copytree(os.path.join(judge_dir, "classifier"), os.path.join(exp_dir, "classifier"))
        started = time.time()
        main_py(data, "--exp_dir", exp_dir, "--seed", args.seed, *label_flags(share), *extra)
        seconds = time.time() - started
        main_py(data, "--mode", "test", "--exp_dir", exp_dir)
        rows.append(row(share, exp_dir, seconds))
        print(f"labels {share:.0%}: trained in {seconds:.0f} s; {rows[-1]['summary']}", flush=True)
        write_json(args.out, {"data": data, "classifier": accuracy, "seed": args.seed, "extra_flags": extra,
                              "rows": rows})  # after every share, so an interrupted benchmark keeps its rows
    for r in rows:
        print(table(r))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
