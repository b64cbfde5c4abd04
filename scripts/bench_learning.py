"""Benchmark: does the demo learn real edits, and how does that depend on the share of labels?

    python scripts/bench_learning.py [--shares 1 0.05 0.01] [--root train_log_bench_learning]
                                     [--out bench_learning.json] [--seed 1234] [-- extra main.py flags]

Trains the attribute classifier once on the demo's real training faces (every label), then for
each label share, one after the other, trains the demo (`main.py --demo`, seeded) with that share
of labelled training images (5%: --labelled 0.05 --oversample_times 10; 1%: --labelled 0.01
--oversample_times 50, the paper's ratios of oversampling), tests it on the demo's test split, and
reads the classifier's figures from metrics.json. Prints one table and saves it as JSON. No test
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


def main_py(*argv):
    """Run main.py with the demo preset; stops the benchmark with main.py's error if it fails."""
    command = [sys.executable, os.path.join(ROOT, "main.py"), "--demo", *map(str, argv)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def row(share, exp_dir, seconds):
    report = json.load(open(os.path.join(exp_dir, "test", "metrics.json")))
    outputs = report["classifier"]["outputs"]
    return {"share": share, "train_seconds": round(seconds, 1), "summary": report["classifier"]["summary"],
            "outputs": {name: {k: f[k] for k in ("success_needed", "preservation", "l1", "collapsed")}
                        for name, f in outputs.items()}}


def table(rows, names):
    """Rows: label share; per output: success where needed / preservation / L1; then wall time."""
    lines = ["cells: success where a change is needed / preservation / L1 to the input (judged by the "
             "attribute classifier)",
             "| labels | " + " | ".join(names) + " | collapsed | training time |",
             "|---" * (len(names) + 3) + "|"]
    for r in rows:
        cells = [f"{r['outputs'][n]['success_needed']:.2f} / {r['outputs'][n]['preservation']:.2f} / "
                 f"{r['outputs'][n]['l1']:.3f}" for n in names]
        minutes, seconds = divmod(int(r["train_seconds"]), 60)
        lines.append(f"| {r['share']:.0%} | " + " | ".join(cells) +
                     f" | {r['summary']['collapsed']} | {minutes} min {seconds:02d} s |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 0.05, 0.01])
    parser.add_argument("--root", default=os.path.join(ROOT, "train_log_bench_learning"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench_learning.json"))
    parser.add_argument("--seed", type=int, default=1234)
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    judge_dir = os.path.join(args.root, "classifier_only")
    started = time.time()
    main_py("--mode", "classifier", "--exp_dir", judge_dir, "--seed", args.seed, *extra)
    accuracy = json.load(open(os.path.join(judge_dir, "classifier.json")))["accuracy"]
    print(f"classifier trained in {time.time() - started:.0f} s; accuracy on the real test faces: {accuracy}",
          flush=True)
    rows = []
    for share in args.shares:
        exp_dir = os.path.join(args.root, f"labels_{share:g}")
        shutil.rmtree(exp_dir, ignore_errors=True)
        shutil.copytree(os.path.join(judge_dir, "classifier"), os.path.join(exp_dir, "classifier"))
        started = time.time()
        main_py("--exp_dir", exp_dir, "--seed", args.seed, *label_flags(share), *extra)
        seconds = time.time() - started
        main_py("--mode", "test", "--exp_dir", exp_dir)
        rows.append(row(share, exp_dir, seconds))
        print(f"labels {share:.0%}: trained in {seconds:.0f} s; {rows[-1]['summary']}", flush=True)
        write_json(args.out, {"classifier_accuracy": accuracy, "seed": args.seed, "extra_flags": extra,
                              "rows": rows})  # after every share, so an interrupted benchmark keeps its rows
    names = json.load(open(os.path.join(exp_dir, "test", "metrics.json")))["classifier"]["output_order"]
    print(table(rows, names))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
