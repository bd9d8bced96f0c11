"""Build a second real dataset from debian-depends: short texts and a few hundred labels.

Each document keeps only the package's one-line short description (the text before " . "),
and its labels only those among the N most frequent training labels; documents left with
no label are dropped. Same train/test split as the source. A dataset of another shape
(about 7 words and a few hundred labels, against 64 words and 28,799 labels) for checking
that defaults generalise.

    python scripts/make_debian_short.py ../shared/datasets/debian-depends /tmp/debian-short
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def short_text(line: str) -> str:
    """The short description: everything before the first " . " separator."""
    return line.split(" . ", 1)[0].strip()


def build(source: Path, target: Path, n_labels: int) -> dict[str, int]:
    """Write {train,test}_{texts,labels}.txt under `target`; returns document counts."""
    train_labels = (source / "train_labels.txt").read_text(encoding="utf-8").splitlines()
    counts = Counter(label for line in train_labels for label in line.split())
    kept = {label for label, _ in counts.most_common(n_labels)}
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split in ("train", "test"):
        texts = (source / f"{split}_texts.txt").read_text(encoding="utf-8").splitlines()
        labels = (source / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()
        rows = [
            (short_text(text), [lab for lab in line.split() if lab in kept])
            for text, line in zip(texts, labels, strict=True)
        ]
        rows = [(text, labs) for text, labs in rows if labs and text]
        (target / f"{split}_texts.txt").write_text(
            "".join(text + "\n" for text, _ in rows), encoding="utf-8"
        )
        (target / f"{split}_labels.txt").write_text(
            "".join(" ".join(labs) + "\n" for _, labs in rows), encoding="utf-8"
        )
        sizes[split] = len(rows)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the debian-depends folder")
    parser.add_argument("target", type=Path, help="where to write the new dataset")
    parser.add_argument("--labels", type=int, default=400, help="how many labels to keep")
    args = parser.parse_args()
    sizes = build(args.source, args.target, args.labels)
    print(f"{args.target}: {sizes['train']} train, {sizes['test']} test, {args.labels} labels")


if __name__ == "__main__":
    main()
