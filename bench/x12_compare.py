"""Compare the X12 analysis of this checkout with another one (an older commit) on real and malformed inputs.

Usage::

    git worktree add /tmp/x12-base <commit>     # or: git archive <commit> | tar -x -C /tmp/x12-base
    .venv/bin/python bench/x12_compare.py --base /tmp/x12-base [--corpus ../shared/x12-corpus] [--variants 25]

Every file of the corpus folders (default: ``tests/corpus/x12`` and ``../shared/x12-corpus`` when present) is
analysed tolerant and strict, and ``--variants`` malformed copies of each (seeded by the file name: bytes
deleted, duplicated or replaced by delimiters, letters and digits, segments dropped or duplicated) tolerant, by
:func:`gateway.edi.x12.analyze` of each checkout in its own interpreter. The ``Analysis.to_dict()`` results
(issues, codes, messages, positions, order) must be equal; the differing inputs are listed. Exit 1 on any
difference. A speed-up of the reader or validator must leave this at 0.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_DUMP = r'''
import pickle, random, sys, zlib
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from gateway.edi.x12 import analyze
files = [Path(p) for p in sys.argv[4:]]
variants = int(sys.argv[3])
out = {}
for p in files:
    data = p.read_bytes()
    for tolerant in (True, False):
        out[(str(p), "original", tolerant)] = analyze(data, tolerant=tolerant).to_dict()
    rng = random.Random(zlib.crc32(p.name.encode()))
    for k in range(variants):
        b = bytearray(data)
        for _ in range(rng.randint(1, 5)):
            if not b:
                break
            i = rng.randrange(len(b))
            act = rng.randrange(5)
            if act == 0:
                del b[i:i + rng.randint(1, 20)]
            elif act == 1:
                b[i:i] = b[i:i + rng.randint(1, 40)]
            elif act == 2:
                b[i] = rng.choice(b"*~:>^ \nA9-.0Z")
            else:
                j = b.find(b"~", i)
                e = b.find(b"~", j + 1)
                if j != -1 and e != -1:
                    if act == 3:
                        del b[j:e]
                    else:
                        b[e:e] = b[j:e]
        out[(str(p), k, True)] = analyze(bytes(b), tolerant=True).to_dict()
with open(sys.argv[2], "wb") as fh:
    pickle.dump(out, fh)
'''


def _files(folders: list[Path]) -> list[Path]:
    skip = {".md", ".txt", ".json", ".yaml", ".yml"}
    return sorted(p for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file() and p.suffix not in skip)


def _dump(root: Path, files: list[Path], variants: int, out: Path) -> dict[object, object]:
    subprocess.run([sys.executable, "-c", _DUMP, str(root), str(out), str(variants), *map(str, files)], check=True)
    with out.open("rb") as fh:
        result: dict[object, object] = pickle.load(fh)  # our own file, just written
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="checkout of the code to compare with")
    parser.add_argument("--corpus", action="append", type=Path, help="folder of X12 files (repeatable)")
    parser.add_argument("--variants", type=int, default=25, help="malformed copies of each file")
    args = parser.parse_args()
    folders = args.corpus or [ROOT / "tests" / "corpus" / "x12", ROOT.parent / "shared" / "x12-corpus"]
    files = _files(folders)
    with tempfile.TemporaryDirectory(prefix="x12compare-") as tmp:
        base = _dump(args.base.resolve(), files, args.variants, Path(tmp) / "base.pickle")
        here = _dump(ROOT, files, args.variants, Path(tmp) / "here.pickle")
    differ = [k for k in base if base[k] != here.get(k)]
    print(f"{len(files)} files, {len(base)} analyses compared, {len(differ)} differ")
    for key in differ[:20]:
        print("  differs:", key)
    return 1 if differ or base.keys() != here.keys() else 0


if __name__ == "__main__":
    raise SystemExit(main())
