"""Business keys read from real corpus files (pure: segments in, keys out)."""

import pytest

from gateway.edi.x12.reader import X12Reader
from gateway.flows.business_keys import extract_business_keys


def keys(path):
    with path.open("rb") as fh:
        return extract_business_keys(X12Reader(fh))


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("940/x12types-940-babelway.edi", {("order", "0080215659"), ("po", "4000207344")}),
        ("945/x12types-945-5010-envelope.edi", {("order", "IF102"), ("shipment", "BOL12345"), ("po", "PO9865")}),
        ("856/x12types-856-fisherscientific.edi",
         {("shipment", "222253"), ("po", "DR3469500"), ("tracking", "1Z54242X0357922222")}),
        ("856/edienginee-856-crossdock.edi",
         {("shipment", "000009"), ("bol", "000001"), ("pro", "0000000008741"), ("po", "POREF00"),
          ("sscc", "00000715670002152360")}),
        ("214/x12types-214-freightforce-2st.edi",
         {("pro", "1234567"), ("shipment", "1234567"), ("tracking", "123456789"), ("order", "30011622")}),
    ],
)  # fmt: skip
def test_keys_from_corpus(corpus, file, expected):
    assert expected <= set(keys(corpus / file))


def test_acknowledgements_carry_no_business_keys(corpus):
    assert keys(corpus / "997" / "pyx12-997-3st.edi") == []


def test_order_is_kept_and_duplicates_dropped(corpus):
    got = keys(corpus / "856" / "edienginee-856-crossdock.edi")
    assert len(got) == len(set(got)) and got[0] == ("shipment", "000009")
