"""Writes an input file for wordcount.py: N lines of words.

usage: make_words.py OUTPUT_FILE [LINES] [SEED]

The words come from a small fixed vocabulary with a skewed distribution, so
the top words are predictable; the same seed always gives the same file.
"""
import os
import random
import sys

VOCABULARY = ["spark", "sirocco", "wind", "dag", "task", "python", "java",
              "cluster", "driver", "executor", "worker", "master"]


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: make_words.py OUTPUT_FILE [LINES] [SEED]")
    path = sys.argv[1]
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    # Weight 1/rank (Zipf-like): "spark" is the most frequent word.
    weights = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for _ in range(lines):
            n = rng.randint(3, 12)
            out.write(" ".join(rng.choices(VOCABULARY, weights, k=n)) + "\n")
    print(f"wrote {lines} lines to {path}")


if __name__ == "__main__":
    main()
