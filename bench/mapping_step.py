"""The mapping step's CPU work per record, as the server does it: X12 -> canonical streamed (``iter_canonical``),
business keys, and the streamed ``{"documents": [...]}`` bytes (``DocumentsWriter``); records dropped one at a time.
Best of 3, CPU time; compare two trees in the same minutes by running each tree's copy of this file.

    .venv/bin/python bench/mapping_step.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mapping import make_214, make_856, make_940, make_945

from gateway.canonical.jsonio import DocumentsWriter
from gateway.mapping import business_keys, iter_canonical


def best(run, n: int = 3) -> float:
    fastest = float("inf")
    for _ in range(n):
        t0 = time.process_time()
        run()
        fastest = min(fastest, time.process_time() - t0)
    return fastest


def main() -> None:
    out = []
    for name, make, sets in (("856", make_856, 1000), ("940", make_940, 2500), ("945", make_945, 2500),
                             ("214", make_214, 5000)):
        data = make(sets)

        def step(data: bytes = data) -> None:
            writer = DocumentsWriter()
            for record in iter_canonical(data):
                business_keys(record)  # type: ignore[arg-type]  # generated data maps: no errors
                writer.add(record)
            writer.close()

        out.append(f"{name} {sets / best(step):,.0f}")
    print("mapping step work (map + keys + streamed JSON), records/s:", "  ".join(out))


if __name__ == "__main__":
    main()
