"""A Bots 3.3 environment for bench/peer_bots.py, built at run time from the project's own X12 specifications.

Nothing here comes from Bots' own grammar files or examples: the grammars (Bots' ``recorddefs`` and ``structure``
format, documented in its ``grammar.py``) are generated from ``gateway/edi/x12/specs`` (856, 940 and 997 of
004010 and their element dictionary); the envelope grammar's ISA/GS/GE/IEA definitions are the X12 control
segment facts of ``control.json`` and the X12 standard (GS elements as in the corpus reference README).

Layout written under ``home``::

    botsbench_config/   settings.py (Django) and bots.ini
    botsbench_usersys/  grammars/x12/{x12,856004010,940004010,940004010UCS,997004010}.py,
                        grammars/xmlnocheck/{856,940}.py, mappings/x12/tree2xml.py
    botssys/            sqlitedb/botsdb (a copy of the database Bots installs, with channels, routes,
                        translations and the 997 confirm rule added), data, logging
    in/  xml/  997/     the inbound folder, the XML and the 997 outbound folders

Routes (one route ``bench``): part 1 reads ``in/*`` as X12 (envelope grammar ``x12``; each ST is parsed with its
transaction set grammar, chosen from ST01 + GS08), translates every set with ``tree2xml`` (the whole parsed tree of
the set written as XML, editype ``xmlnocheck``) into ``xml/``; part 2 sends the 997 that Bots generates for each
inbound group (confirm rule ``send-x12-997`` for all) into ``997/``.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "gateway" / "edi" / "x12" / "specs"
CONFIG = "botsbench_config"
USERSYS = "botsbench_usersys"

# (transaction set, spec file, Bots message types: ST01 + GS08 of the files Bots reads or writes)
SETS = (
    ("856", "856.004010.json", ("856004010",)),
    ("940", "940.004010.json", ("940004010", "940004010UCS")),
    ("997", "997.004010.json", ("997004010",)),
)

# X12 control segments: (element, M/C, min length, max length, X12 type). ISA from control.json's widths (ISA
# elements are fixed width); GS/GE/IEA/ST/SE: the X12 standard's control segment definitions.
GS_GE_IEA = {
    "GS": [("GS01", "M", 2, 2, "ID"), ("GS02", "M", 2, 15, "AN"), ("GS03", "M", 2, 15, "AN"),
           ("GS04", "M", 6, 8, "DT"), ("GS05", "M", 4, 8, "TM"), ("GS06", "M", 1, 9, "N0"),
           ("GS07", "M", 1, 2, "ID"), ("GS08", "M", 1, 12, "AN")],
    "GE": [("GE01", "M", 1, 6, "N0"), ("GE02", "M", 1, 9, "N0")],
    "IEA": [("IEA01", "M", 1, 5, "N0"), ("IEA02", "M", 9, 9, "N0")],
}


def _bots_format(x12_type: str) -> str:
    """The X12 type as Bots' x12 grammar spells it (``R4``, ``R8``... of the dictionary are ``R`` with a length)."""
    return "R" if x12_type.startswith("R") else x12_type


def _field(name: str, req: str, lo: int, hi: int, x12_type: str) -> list[Any]:
    return [name, "M" if req == "M" else "C", (lo, hi), _bots_format(x12_type)]


def recorddefs(dictionary: dict[str, Any], segments: set[str]) -> dict[str, list[Any]]:
    """Bots recorddefs of ``segments`` from the project's element dictionary: each element a field
    ``[SEG01, M|C, (min, max), type]``, each composite ``[SEG04, M|C, [[SEG04.01, ...], ...]]``."""
    elements, composites = dictionary["elements"], dictionary["composites"]
    out: dict[str, list[Any]] = {}
    for seg in sorted(segments):
        fields: list[Any] = [["BOTSID", "M", 3, "AN"]]
        for pos, (ref, req) in enumerate(dictionary["segments"][seg]["elements"], start=1):
            name = f"{seg}{pos:02d}"
            if ref in composites:
                subs = []
                for i, (sref, sreq) in enumerate(composites[ref], start=1):
                    s_type, s_lo, s_hi, _s_codes = elements[sref]
                    subs.append(_field(f"{name}.{i:02d}", sreq, s_lo, s_hi, s_type))
                fields.append([name, "M" if req == "M" else "C", subs])
            else:
                x12_type, lo, hi, _codes = elements[ref]
                fields.append(_field(name, req, lo, hi, x12_type))
        out[seg] = fields
    return out


def _segments_of(structure: list[dict[str, Any]], acc: set[str]) -> set[str]:
    for item in structure:
        if "segment" in item:
            acc.add(item["segment"])
        else:
            _segments_of(item["content"], acc)
    return acc


def bots_structure(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spec's structure as Bots' structure: a loop is its first segment with the rest of the loop as LEVEL;
    the loop's requirement and repeat are the first segment's."""
    out: list[dict[str, Any]] = []
    for item in items:
        if "segment" in item:
            out.append({"ID": item["segment"], "MIN": 1 if item["req"] == "M" else 0, "MAX": item["max"]})
        else:
            head, *rest = item["content"]
            entry = {"ID": head["segment"], "MIN": 1 if item["req"] == "M" else 0, "MAX": item["max"]}
            if rest:
                entry["LEVEL"] = bots_structure(rest)
            out.append(entry)
    return out


def message_structure(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Bots wants one root record: ST, with the rest of the set (through SE) as its LEVEL."""
    body = bots_structure(spec["structure"])
    if body[0]["ID"] != "ST" or body[-1]["ID"] != "SE":
        raise SystemExit(f"spec {spec['id']}: expected ST ... SE")
    root = dict(body[0])
    root["LEVEL"] = body[1:]
    return [root]


def _render_structure(items: list[dict[str, Any]], indent: str = "    ") -> str:
    lines = []
    for it in items:
        keys = [f"ID: {it['ID']!r}", f"MIN: {it['MIN']}", f"MAX: {it['MAX']}"]
        for extra in ("QUERIES", "SUBTRANSLATION"):
            if extra in it:
                keys.append(f"{extra}: {it[extra]!r}")
        if "LEVEL" in it:
            keys.append("LEVEL: [\n" + _render_structure(it["LEVEL"], indent + "    ") + indent + "]")
        lines.append(indent + "{" + ", ".join(keys) + "},\n")
    return "".join(lines)


def _grammar_source(syntax: dict[str, Any], structure: list[dict[str, Any]], defs: dict[str, list[Any]],
                    nextmessage: tuple[dict[str, Any], ...] | None = None) -> str:
    head = ("# generated by bench/bots_env.py from the project's X12 specifications\n"
            "from bots.botsconfig import *  # noqa: F403  (ID, MIN, MAX, LEVEL, QUERIES, SUBTRANSLATION)\n\n")
    text = head + f"syntax = {syntax!r}\n\n"
    if nextmessage:
        text += f"nextmessage = {nextmessage!r}\n\n"
    text += "structure = [\n" + _render_structure(structure) + "]\n\n"
    text += "recorddefs = {\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in defs.items()) + "}\n"
    return text


def envelope_grammar(dictionary: dict[str, Any], writing: bool = False) -> str:
    """The ``x12`` grammar: the interchange and group envelope; each ST starts a sub-translation with the grammar
    of ST01 + GS08; each set goes to the mapping on its own (``nextmessage``). ``writing``: the grammar of the
    997's envelope (``x12out``), where ST is optional: Bots checks the envelope it builds (ISA, GS, GE, IEA)
    against it before it adds the sets."""
    control = json.loads((SPECS / "control.json").read_text())
    isa: list[Any] = [_field(name, "M", f["width"], f["width"], f["kind"]) for name, f in control["isa"].items()
                      if name != "ISA16"]
    # ISA16 is the component separator itself: Bots' lexer reads it as an empty element followed by an empty
    # component, so it is declared as a two-component composite, conditional (Bots writes the ISA's separators
    # itself when it builds an envelope)
    isa.append(["ISA16", "C", [["ISA16.01", "C", (1, 1), "AN"], ["ISA16.02", "C", (1, 1), "AN"]]])
    defs: dict[str, list[Any]] = {"ISA": [["BOTSID", "M", 3, "AN"], *isa]}
    for seg, elems in GS_GE_IEA.items():
        defs[seg] = [["BOTSID", "M", 3, "AN"], *(_field(*e) for e in elems)]
    defs.update(recorddefs(dictionary, {"ST", "SE"}))
    structure = [{
        "ID": "ISA", "MIN": 1, "MAX": 1,
        "QUERIES": {"frompartner": {"BOTSID": "ISA", "ISA06": None}, "topartner": {"BOTSID": "ISA", "ISA08": None},
                    "reference": {"BOTSID": "ISA", "ISA13": None}},
        "LEVEL": [
            {"ID": "GS", "MIN": 1, "MAX": 99999, "LEVEL": [
                {"ID": "ST", "MIN": 0 if writing else 1, "MAX": 999999,
                 "SUBTRANSLATION": {"BOTSID": "ST", "ST01": None}},
                {"ID": "GE", "MIN": 1, "MAX": 1},
            ]},
            {"ID": "IEA", "MIN": 1, "MAX": 1},
        ],
    }]
    syntax = {"version": "00401", "ISA05": "ZZ", "ISA07": "ZZ", "ISA15": "P"}
    nextmessage = ({"BOTSID": "ISA"}, {"BOTSID": "GS"}, {"BOTSID": "ST"})
    return _grammar_source(syntax, structure, defs, nextmessage)


SETTINGS_PY = '''\
# Django settings of the bench's Bots environment (generated by bench/bots_env.py)
import os
HOME = {home!r}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                          "NAME": os.path.join(HOME, "botssys", "sqlitedb", "botsdb"),
                          "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "OPTIONS": {{}}}}}}
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
SECRET_KEY = "bench-only-not-a-secret"
ROOT_URLCONF = "bots.urls"
SITE_ID = 1
ALLOWED_HOSTS = ["127.0.0.1"]
STATIC_URL = "/static/"
INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.messages", "bots"]
MIDDLEWARE = []
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
              "OPTIONS": {{}}}}]
'''

BOTS_INI = """\
[settings]
maxdays = 30
maxdaysarchive = 180
maxruntime = 60
whencleanup = never
maxfilesizeincoming = {max_size}
max_number_errors = 10
port = {port}
globaltimeout = 10
sendreportiferror = False
sendreportifprocesserror = False
log_console = False
log_file_level = {log_level}
log_file_number = 10
get_checklevel = 1
debug = False
readrecorddebug = False
mappingdebug = False
[webserver]
environment = production
[acceptance]
runacceptancetest = False
[jobqueue]
enabled = False
[directories]
botssys = {home}/botssys
usersys = {usersys}
[charsets]
"""

# the generic mapping: the parsed set, as it is, becomes the XML message
TREE2XML = '''\
# generated by bench/bots_env.py: write the parsed X12 transaction set (the whole tree) as XML. The tree is
# copied: Bots' XML writer consumes the records it writes, and the 997 is built from the inbound tree afterwards.
from bots.node import Node


def _copy(inode):
    onode = Node(record=dict(inode.record))
    onode.children = [_copy(child) for child in inode.children]
    return onode


def main(inn, out):
    out.root = _copy(inn.root)
'''


def build(home: Path, installed_db: Path, port: int, max_size: int, log_level: str = "INFO") -> None:
    """Write a fresh Bots environment in ``home`` (removed first if present)."""
    if home.exists():
        shutil.rmtree(home)
    dictionary = json.loads((SPECS / "dictionary.004010.json").read_text())
    cfg, us = home / CONFIG, home / USERSYS
    for d in (cfg, us / "grammars" / "x12", us / "grammars" / "xmlnocheck", us / "mappings" / "x12",
              home / "botssys" / "sqlitedb", home / "in", home / "xml", home / "997"):
        d.mkdir(parents=True, exist_ok=True)
    for pkg in (cfg, us, us / "grammars", us / "grammars" / "x12", us / "grammars" / "xmlnocheck", us / "mappings",
                us / "mappings" / "x12"):
        (pkg / "__init__.py").write_text("")
    (cfg / "settings.py").write_text(SETTINGS_PY.format(home=str(home)))
    (cfg / "bots.ini").write_text(BOTS_INI.format(home=home, usersys=USERSYS, port=port, max_size=max_size,
                                                       log_level=log_level))
    grammars = us / "grammars" / "x12"
    (grammars / "x12.py").write_text(envelope_grammar(dictionary))
    (grammars / "x12out.py").write_text(envelope_grammar(dictionary, writing=True))
    for tset, spec_file, names in SETS:
        spec = json.loads((SPECS / spec_file).read_text())
        segs = _segments_of(spec["structure"], set())
        syntax: dict[str, Any] = {"functionalgroup": spec["functional_group"]}
        if tset == "940":
            # the 940's LS/LX/LE loop inside the W01 loop repeats LX, which Bots' grammar check refuses as a
            # "nesting collision"; its parser takes the first match, which is right for files without LS
            syntax["checkcollision"] = False
        if tset == "997":
            syntax["envelope"] = "x12out"
        source = _grammar_source(syntax, message_structure(spec),
                                 recorddefs(dictionary, segs))
        for name in names:
            (grammars / f"{name}.py").write_text(source)
        if tset != "997":
            (us / "grammars" / "xmlnocheck" / f"{tset}.py").write_text("syntax = {}\n")
    (us / "mappings" / "x12" / "tree2xml.py").write_text(TREE2XML)
    db = home / "botssys" / "sqlitedb" / "botsdb"
    shutil.copyfile(installed_db, db)
    configure_db(db, home)


def configure_db(db: Path, home: Path) -> None:
    """Channels, the route's two parts, the translations and the 997 confirm rule."""
    con = sqlite3.connect(db)
    with con:
        chan = ("INSERT INTO channel (idchannel, inorout, type, charset, host, port, username, secret, starttls, "
                "apop, remove, path, filename, lockname, syslock, parameters, ftpaccount, ftpactive, ftpbinary, "
                "askmdn, sendmdn, mdnchannel, archivepath, testpath) "
                "VALUES (?, ?, 'file', 'us-ascii', '', NULL, '', '', 0, 0, ?, ?, ?, '', 0, '', '', 0, 0, '', '', "
                "'', '', '')")
        con.execute(chan, ("bench_in", "in", 1, str(home / "in"), "*"))
        con.execute(chan, ("bench_xml", "out", 0, str(home / "xml"), "*.xml"))
        con.execute(chan, ("bench_997", "out", 0, str(home / "997"), "*.x12"))
        route = ("INSERT INTO routes (idroute, seq, active, fromchannel_id, fromeditype, frommessagetype, "
                 "tochannel_id, toeditype, tomessagetype, alt, testindicator, translateind, notindefaultrun, "
                 "defer, zip_incoming, zip_outgoing) VALUES ('bench', ?, 1, ?, ?, ?, ?, ?, ?, '', '', ?, 0, 0, 0, 0)")
        con.execute(route, (1, "bench_in", "x12", "x12", "bench_xml", "xmlnocheck", "", 1))
        con.execute(route, (2, None, "", "", "bench_997", "x12", "997004010", 0))
        for _tset, _spec, names in SETS[:2]:
            for name in names:
                con.execute("INSERT INTO translate (active, fromeditype, frommessagetype, alt, tscript, toeditype, "
                            "tomessagetype) VALUES (1, 'x12', ?, '', 'tree2xml', 'xmlnocheck', ?)", (name, name[:3]))
        con.execute("INSERT INTO confirmrule (active, confirmtype, ruletype, negativerule, editype, messagetype) "
                    "VALUES (1, 'send-x12-997', 'all', 0, '', '')")
    con.close()
