"""Every X12 sample under samples/ passes our own validation, unless it is kept on purpose as the third-party file
it was copied from, defects and all (to show the tolerant reading); those are listed here and must stay byte-exact
copies of a corpus file, whose defects tests/edi/test_corpus.py pins one by one.

The samples a new user drops into an example partner's inbox (README, samples/PROVENANCE.md) must be valid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from x12_corpus import CORPUS

from gateway.edi.x12 import analyze

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
X12_SAMPLES = sorted(SAMPLES.glob("x12/*/*.edi"))

# the example partners' samples: what README and docs tell a user to try
PARTNER_SAMPLES = {"856/harbor-3pl-crossdock.edi", "940/acme-retail-new-order.edi", "214/alink-carrier-status.edi"}
# real files with genuine defects, kept as they are so the golden mapping shows what the tolerant reader makes of them
DEFECTIVE_ON_PURPOSE = {
    "214/omniparser-214-canadapost-19st.edi",  # N1*ST without a name, L11**CI
    "214/x12types-214-1edisource.edi",  # IEA02 differs from ISA13
    "214/x12types-214-freightforce-2st.edi",  # ST02/SE02 control numbers
    "856/coedition-856-pipe-3st.edi",  # MAN01 '2I'
    "856/coedition-856-pipe-sloppy-isa.edi",  # GS04, TD502, GE02/IEA02
    "856/x12types-856-carrier-details.edi",  # SE01 count
    "940/x12types-940-1edisource.edi",  # GE02/IEA02 control numbers
    "940/x12types-940-babelway.edi",  # N4 city too long, G61 conditional
    "945/x12types-945-5010-envelope.edi",  # N1 conditionals, W10 code, SE01 count
    "945/x12types-945-waqe.edi",  # same defects as its 5010 copy
}


def sample_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def corpus_origin(sample: str) -> str:
    """The corpus file a sample was copied from, from its row in samples/PROVENANCE.md."""
    text = (SAMPLES / "PROVENANCE.md").read_text(encoding="utf-8")
    match = re.search(rf"^\| `x12/{re.escape(sample)}` \| `([^`]+)` \|", text, re.MULTILINE)
    assert match, f"samples/PROVENANCE.md has no row for x12/{sample}"
    return match.group(1)


def test_the_lists_name_real_samples():
    names = {sample_id(p) for p in X12_SAMPLES}
    assert len(names) >= 20
    assert names >= PARTNER_SAMPLES | DEFECTIVE_ON_PURPOSE
    assert not PARTNER_SAMPLES & DEFECTIVE_ON_PURPOSE


@pytest.mark.parametrize("sample", X12_SAMPLES, ids=sample_id)
def test_sample_is_valid_or_a_pinned_copy_of_a_defective_corpus_file(sample: Path):
    name = sample_id(sample)
    analysis = analyze(sample.read_bytes(), tolerant=True, file=str(sample))
    errors = [i.message for i in analysis.issues if i.severity.value == "error"]
    if name in DEFECTIVE_ON_PURPOSE:
        assert errors, f"{name} validates now: remove it from DEFECTIVE_ON_PURPOSE"
        origin = CORPUS / corpus_origin(name)
        assert sample.read_bytes() == origin.read_bytes(), f"{name} is no longer a byte-exact copy of {origin}"
    else:
        assert errors == [], f"{name} fails validation: {errors[:5]}"
