"""``gateway partners new``: a commented partner file from a few answers, valid as written.

The file always gets local folder channels (so it runs at once under the embedded default) and shows the SFTP
and AS2 variants as comments; ``channel="sftp"`` or ``"as2"`` makes that variant the live one instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("retailer", "warehouse", "carrier", "supplier", "customer", "other")


@dataclass
class DocumentAnswer:
    set_id: str
    direction: str
    version: str = "004010"
    mapping: str | None = None

    @classmethod
    def parse(cls, text: str) -> DocumentAnswer:
        """``856:inbound`` or ``856:inbound:004010VICS`` or ``856:inbound:004010:mapping-name``."""
        parts = text.split(":")
        if len(parts) < 2 or parts[1] not in ("inbound", "outbound"):
            raise ValueError(f"{text!r}: expected SET:DIRECTION[:VERSION[:MAPPING]], e.g. 856:inbound:004010")
        version = parts[2] if len(parts) > 2 and parts[2] else "004010"
        mapping = parts[3] if len(parts) > 3 and parts[3] else None
        return cls(parts[0], parts[1], version, mapping)


@dataclass
class Answers:
    id: str
    name: str
    role: str = "other"
    qualifier: str = "ZZ"
    isa_id: str = ""
    application_id: str | None = None
    our_qualifier: str | None = None
    our_id: str | None = None
    usage: str = "P"
    documents: list[DocumentAnswer] = field(default_factory=list)
    channel: str = "folder"
    sftp_host: str = "sftp.partner.example"
    sftp_user: str = "gateway"
    host_key: str | None = None
    as2_id: str | None = None
    as2_url: str = "https://as2.partner.example/as2"


def _q(value: str) -> str:
    """A YAML scalar that stays a string (ids such as 08 or 925119TEST)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _secret_name(partner_id: str, what: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in partner_id).upper() + "_" + what


def render(a: Answers) -> str:
    isa_id = a.isa_id or a.id.upper().replace("-", "")[:15]
    app_id = a.application_id or isa_id
    out = [
        f"# {a.name}: partner file created by 'gateway partners new'. Check it with 'gateway partners check'.",
        "# Every key is described in docs/partners.md; editors validate against docs/partner.schema.json.",
        "# yaml-language-server: $schema=../docs/partner.schema.json",
        f"id: {a.id}",
        f"name: {_q(a.name)}",
        f"role: {a.role}                     # {', '.join(ROLES)}",
        "identity:",
        "  interchange_ids:                 # ISA05/ISA06 they send from; a second entry if they use two",
        f"    - {{qualifier: {_q(a.qualifier)}, id: {_q(isa_id)}}}",
        f"  application_ids: [{_q(app_id)}]    # GS02 they send from",
        f"  usage: {a.usage}                       # ISA15 we send them: P production, T test",
    ]
    if a.our_id:
        out += [
            "# How this partner addresses us in ISA07/ISA08 (leave out to use our identity in config/gateway.yaml).",
            "our_ids:",
            f"  - {{qualifier: {_q(a.our_qualifier or 'ZZ')}, id: {_q(a.our_id)}}}",
        ]
    else:
        out += [
            "# our_ids:                        # how they address us, if not our identity in config/gateway.yaml",
            '#   - {qualifier: "ZZ", id: "EXAMPLEHUB"}',
        ]
    folder = [
        "  # Local folders, relative to the gateway's data_dir (var/ by default).",
        f"  - {{name: inbox, type: folder, direction: inbound, path: channels/{a.id}/inbound}}",
        f"  - {{name: outbox, type: folder, direction: outbound, path: channels/{a.id}/outbound}}",
    ]
    key = a.host_key or "ssh-ed25519 AAAA...   (ssh-keyscan -t ed25519 HOST, without the host name)"
    sftp = [
        "  - name: sftp",
        "    type: sftp",
        "    direction: both",
        f"    host: {a.sftp_host}",
        "    port: 22",
        f"    username: {a.sftp_user}",
        f"    private_key: {{secret: {_secret_name(a.id, 'SFTP_KEY')}}}   # GATEWAY_SECRET_... or secrets dir",
        f"    host_key: {key}",
        "    inbound_dir: /outbound          # their folder we pick up from",
        "    outbound_dir: /inbound          # their folder we upload to",
        "    pattern: '*.edi'",
        "    poll: 5m                        # or a cron string: '*/10 6-20 * * mon-fri'",
        "    after_pickup: move              # to processed_dir (default <inbound_dir>/processed), or delete",
    ]
    as2 = [
        "  - name: as2",
        "    type: as2",
        "    direction: both",
        f"    as2_id: {_q(a.as2_id or isa_id)}",
        f"    url: {a.as2_url}",
        f"    signing_certificates: [{a.id}/as2.pem]    # beside this file; add a second one for a rollover",
        f"    encryption_certificate: {a.id}/as2.pem",
        "    mdn: sync                       # sync, async or none",
        "    mdn_signed: true",
    ]
    if a.channel == "sftp" and a.host_key:
        live, commented = sftp, [("AS2", as2)]
    elif a.channel == "as2":
        live, commented = as2, [("SFTP", sftp)]
    else:
        live, commented = [], [("SFTP", sftp), ("AS2", as2)]
    out += ["channels:", *folder, *live]
    for title, lines in commented:
        out.append(f"  # {title} variant: uncomment, fill in, and remove the folder channels if they are not used.")
        out += ["  #" + line[1:] for line in lines]
    out.append("documents:")
    if not a.documents:
        out.append('  - {set_id: "856", direction: inbound, version: "004010"}')
    for d in a.documents:
        mapping = f", mapping: {d.mapping}" if d.mapping else ""
        out.append(f"  - {{set_id: {_q(d.set_id)}, direction: {d.direction}, version: {_q(d.version)}{mapping}}}")
    out += [
        "acknowledgements:",
        "  send: auto                       # auto (997 for 004010, 999 for 005010), 997, 999 or none",
        "  ta1: on_request                  # on_request, always or never",
        "  # expect_ack_within: 4h          # their 997/999 for what we send is overdue after this",
        "reading: tolerant                  # strict: envelope sloppiness is an error",
        "# envelope:                        # what we send them",
        "#   delimiters: {element: '*', component: '>', repetition: '^', segment: '~'}",
        '#   terminator_suffix: "\\n"',
        "# retry: {attempts: 5, backoff: 30s, multiplier: 2, max_backoff: 1h}",
    ]
    return "\n".join(out) + "\n"
