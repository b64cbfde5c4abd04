"""Write the procedural demo dataset (CelebA layout) into a folder.

    python scripts/make_demo_data.py [--out data/demo_faces] [--count 4000] [--seed 0]
"""
import argparse
import time


from sggan.data import demo_faces  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/demo_faces")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    demo_faces.generate(args.out, args.count, args.seed)
    print(f"wrote {args.count} faces to {args.out} in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
