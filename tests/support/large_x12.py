"""A large interchange for the tests of the large-file key path (over ``KEYS_FROM_ANALYSIS_BYTES``: its keys are
written in chunks while the envelope analysis reads it), and bytes that make the analysis refuse a file."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from e2e import Templates  # noqa: E402

SETS = 700  # 9 distinct keys a set: more than one KeySink chunk (5,000), and over KEYS_FROM_ANALYSIS_BYTES
# an interchange whose sender is blank: bytes that happen to hold "ISA" (gateway.flows.identify.require_senders)
JUNK = (b"ISA*00*          *00*          *ZZ*               *ZZ*RECEIVER       *091225*1943*U*00401*000000777*0*P*>~"
        b"GS*SH*X*RECEIVER*20091225*1943*777*X*004010~ST*856*0001~BSN*00*SH-JUNK*20090921*0801~SE*3*0001~"
        b"GE*1*777~IEA*1*000000777~")


def large_856(sets: int = SETS) -> bytes:
    """One interchange of ``sets`` 856s from harbor-3pl (bench/e2e.py's templates)."""
    t = Templates()
    return t.interchange("856", 1, [t.body_856(n) for n in range(1, sets + 1)])
