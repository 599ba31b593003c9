"""Summarise a py-spy recording in collapsed-stack form (`--format raw`).

    py-spy record --pid PID --format raw --threads [--gil] -o prof.txt --duration 10
    python benchmarks/profile_summary.py prof.txt [--top 30] [--thread garrison-writer]

Prints, per thread, its share of the samples; then the functions with the most
samples of their own (self) and the most samples under them (inclusive), with
line numbers folded away. `kms_throughput.py --profile DIR --profile-format raw`
writes such files for Garrison's Encrypt and Decrypt runs.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"\s*\(([^()]*?)(?::\d+)?\)$")


def _function(frame: str) -> str:
    """`name (path/file.py:123)` -> `name (path/file.py)`."""
    return _LINE.sub(lambda m: f" ({m.group(1)})", frame.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--thread", help="only stacks of threads whose name contains this")
    args = parser.parse_args()

    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in args.file.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue  # a frame name py-spy split over two lines (a lambda's source)
        count = int(count_text)
        frames = stack.split(";")
        # `--subprocesses` puts `process ...` frames before the thread's
        while frames and frames[0].startswith("process "):
            frames = frames[1:]
        if not frames:
            continue
        thread = frames[0].split(": ", 1)[-1] if frames[0].startswith("thread") else "?"
        threads[thread] += count
        if args.thread and args.thread not in thread:
            continue
        total += count
        names = [_function(f) for f in frames[1:]] or ["<idle>"]
        own[names[-1]] += count
        for name in set(names):
            under[name] += count

    grand = sum(threads.values()) or 1
    print(f"{grand} samples")
    for thread, count in threads.most_common():
        print(f"  {count / grand:6.1%}  {thread}")
    for title, table in (("self", own), ("inclusive", under)):
        print(f"\ntop {args.top} by {title} ({total} samples):")
        for name, count in table.most_common(args.top):
            print(f"  {count / (total or 1):6.1%}  {name}")


if __name__ == "__main__":
    main()
