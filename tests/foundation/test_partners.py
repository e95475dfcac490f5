from pathlib import Path

import pytest

from gateway.errors import ConfigError, MisaddressedError, RoutingConflictError, UnknownPartnerError
from gateway.partners.loader import load_partner_file, load_partners
from gateway.partners.registry import PartnerRegistry
from gateway.settings import OwnIdentity

GOOD = """
id: acme
name: ACME
identity:
  interchange_ids: [{qualifier: ZZ, id: ACME}]
channels:
  - {name: in, type: folder, direction: inbound, path: channels/acme/in}
"""


def test_shipped_example_partners_load(repo_root):
    partners, problems = load_partners(repo_root / "partners")
    assert problems == []
    assert {p.id for p in partners} >= {"acme-retail", "alink-carrier", "harbor-3pl"}
    roles = {p.role for p in partners}
    assert {"retailer", "carrier", "warehouse"} <= roles


def test_unknown_key_is_refused_with_file_and_field(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text(GOOD + "colour: blue\n")
    with pytest.raises(ConfigError) as e:
        load_partner_file(f)
    assert e.value.location.file == str(f) and e.value.location.field == "colour"


def test_duplicate_interchange_ids_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.replace("id: acme\n", "id: other\n"))
    partners, problems = load_partners(tmp_path)
    assert [p.id for p in partners] == ["acme"]
    assert "already claimed" in problems[0].message and problems[0].location.file.endswith("b.yaml")


def registry() -> PartnerRegistry:
    p = load_partner_file_from_text(GOOD)
    return PartnerRegistry([p], OwnIdentity(isa_qualifier="ZZ", isa_id="HUB"))


def load_partner_file_from_text(text: str):
    import yaml

    from gateway.partners.schema import Partner

    return Partner.model_validate(yaml.safe_load(text))


def test_identify_by_sender_and_receiver():
    r = registry()
    p = r.identify(sender_qualifier="ZZ", sender_id="acme ", receiver_qualifier="ZZ", receiver_id="HUB")
    assert p.id == "acme"


def test_unknown_sender_names_the_id():
    with pytest.raises(UnknownPartnerError, match="ZZ/NOBODY"):
        registry().identify(sender_qualifier="ZZ", sender_id="NOBODY", receiver_qualifier="ZZ", receiver_id="HUB")


def test_misaddressed_and_channel_conflict():
    r = registry()
    with pytest.raises(MisaddressedError, match="ZZ/SOMEONE"):
        r.identify(sender_qualifier="ZZ", sender_id="ACME", receiver_qualifier="ZZ", receiver_id="SOMEONE")
    with pytest.raises(RoutingConflictError):
        r.identify(
            sender_qualifier="ZZ",
            sender_id="ACME",
            receiver_qualifier="ZZ",
            receiver_id="HUB",
            channel_partner="another",
        )


def test_yaml_error_has_line(tmp_path: Path):
    f = tmp_path / "bad.yaml"
    f.write_text("id: x\nname: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_partner_file(f)
    assert e.value.location.line == 3 or e.value.location.line == 2
