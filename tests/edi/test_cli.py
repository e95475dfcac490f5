"""The ``gateway x12`` command contract (issue 3): exit codes, the ``--json`` shape, ``ack`` and ``segments``.

Runs the installed ``gateway`` entry point in a subprocess, the way partners' scripts and CI checks call it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from x12_corpus import corpus_file, corpus_files

from gateway.cli import main
from gateway.edi.x12 import analyze, read_segments

GATEWAY = Path(sys.executable).parent / "gateway"


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes


def run(*args: str | Path) -> Result:
    """``gateway x12 ARGS`` in-process through click's runner (the same app object as the entry point; one test
    below runs the real entry point in a subprocess)."""
    result = CliRunner().invoke(main.app, ["x12", *map(str, args)], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"gateway x12 {args} crashed: {result.exception!r}") from result.exception
    assert b"Traceback" not in result.stderr_bytes
    return Result(result.exit_code, result.stdout_bytes, result.stderr_bytes)


def run_entry_point(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    if not GATEWAY.exists():
        pytest.fail(f"the gateway entry point is missing at {GATEWAY}: install the project (pip install -e .)")
    proc = subprocess.run([str(GATEWAY), "x12", *map(str, args)], capture_output=True, timeout=120, check=False)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return proc


def as_json(proc: Result | subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict)
    return doc


def _file(name: str) -> Path:
    path = corpus_file(name)
    assert path.is_file(), path
    return path


OK_940 = "940/ediengine-940-ok.edi"
UNPADDED_IEA = "940/ediengine-940-multi-isa-gs-st.edi"  # IEA02 '3438' vs ISA13 '000003438': tolerated
CONTROL_MISMATCH = "invalid/940-ediengine-control-mismatch.edi"


def _check_issue_shape(issue: dict[str, Any]) -> None:
    for key in ("code", "message", "segment_id", "segment_position", "element_position"):
        assert key in issue, (key, issue)
    assert isinstance(issue["code"], str) and issue["code"]
    assert isinstance(issue["message"], str) and issue["message"]
    assert issue["segment_position"] is None or isinstance(issue["segment_position"], int)
    assert issue["element_position"] is None or isinstance(issue["element_position"], int)


def _check_shape(doc: dict[str, Any]) -> None:
    """The shape the issue specifies (extra keys are allowed, these ones are required)."""
    assert isinstance(doc["valid"], bool)
    for key in ("warnings", "errors"):
        assert isinstance(doc[key], list)
        for issue in doc[key]:
            _check_issue_shape(issue)
    for ic in doc["interchanges"]:
        for key in ("sender", "receiver", "control_number", "groups"):
            assert key in ic, key
        for g in ic["groups"]:
            for key in ("functional_id", "version", "control_number", "transactions"):
                assert key in g, key
            for tx in g["transactions"]:
                assert isinstance(tx["set_id"], str)
                assert isinstance(tx["control_number"], str)
                assert isinstance(tx["valid"], bool)
                assert isinstance(tx["segment_count"], int)
                for issue in tx["errors"]:
                    _check_issue_shape(issue)


# ------------------------------------------------------------------------------------------------- validate
def test_validate_valid_file_exits_0_with_json_shape() -> None:
    path = _file(OK_940)
    proc = run("validate", "--json", path)
    assert proc.returncode == 0, proc.stdout
    doc = as_json(proc)
    _check_shape(doc)
    assert doc["valid"] is True and doc["errors"] == []
    analysis = analyze(path.read_bytes())
    ic = analysis.interchanges[0]
    assert [(i["sender"], i["receiver"], i["control_number"]) for i in doc["interchanges"]] == [
        (ic.sender_id, ic.receiver_id, ic.control_number)]
    txs = [t for i in doc["interchanges"] for g in i["groups"] for t in g["transactions"]]
    assert [(t["set_id"], t["control_number"], t["segment_count"]) for t in txs] == [
        (t.set_id, t.control_number, t.segment_count) for t in analysis.transactions]
    assert all(t["valid"] for t in txs)


def test_validate_text_output_names_file_and_status() -> None:
    path = _file(OK_940)
    proc = run("validate", path)
    assert proc.returncode == 0
    assert proc.stdout.decode().startswith(f"{path}: valid")


def test_entry_point_exit_codes() -> None:
    """The installed ``gateway`` script, as a partner's script would run it: 0, 1 and 2."""
    good, bad = _file(OK_940), _file(CONTROL_MISMATCH)
    assert run_entry_point("validate", good).returncode == 0
    proc = run_entry_point("validate", "--json", bad)
    assert proc.returncode == 1
    assert as_json(proc)["valid"] is False
    assert run_entry_point("validate", "/nonexistent/file.edi").returncode == 2
    assert run_entry_point("ack", good).stdout.startswith(b"ISA")


def test_validate_invalid_file_exits_1_with_positions() -> None:
    proc = run("validate", "--json", _file(CONTROL_MISMATCH))
    assert proc.returncode == 1
    doc = as_json(proc)
    _check_shape(doc)
    assert doc["valid"] is False
    codes = {e["code"] for e in doc["errors"]}
    assert {"se_control_mismatch", "ge_control_mismatch", "iea_control_mismatch"} <= codes
    tx = doc["interchanges"][0]["groups"][0]["transactions"][0]
    assert tx["valid"] is False
    se = next(e for e in tx["errors"] if e["code"] == "se_control_mismatch")
    assert (se["segment_id"], se["element_position"]) == ("SE", 2)
    assert se["segment_position"] == tx["segment_count"]  # SE is the last segment of the set


def test_strict_turns_tolerated_deviation_into_exit_1() -> None:
    path = _file(UNPADDED_IEA)
    tolerant = run("validate", "--json", path)
    strict = run("validate", "--json", "--strict", path)
    assert (tolerant.returncode, strict.returncode) == (0, 1)
    assert "iea_control_unpadded" in {w["code"] for w in as_json(tolerant)["warnings"]}
    assert "iea_control_unpadded" in {e["code"] for e in as_json(strict)["errors"]}


def test_several_files_any_rejected_exits_1() -> None:
    good, bad = _file(OK_940), _file(CONTROL_MISMATCH)
    assert run("validate", good, good).returncode == 0
    proc = run("validate", "--json", good, bad)
    assert proc.returncode == 1
    doc = as_json(proc)
    _check_shape(doc)
    assert doc["valid"] is False
    assert [(f["file"], f["valid"]) for f in doc["files"]] == [(str(good), True), (str(bad), False)]
    assert {e["file"] for e in doc["errors"]} == {str(bad)}


def test_every_invalid_corpus_file_exits_1_without_traceback() -> None:
    files = corpus_files("invalid")
    proc = run("validate", "--json", *files)
    assert proc.returncode == 1
    doc = as_json(proc)
    assert [f["file"] for f in doc["files"]] == [str(f) for f in files]
    not_rejected = [f["file"] for f in doc["files"] if f["valid"]]
    assert not_rejected == []
    assert {e["file"] for e in doc["errors"]} == {str(f) for f in files}  # each has at least one error
    one = run("validate", files[0])  # and alone
    assert one.returncode == 1


@pytest.mark.parametrize("args", [
    pytest.param(("validate",), id="no-file"),
    pytest.param(("validate", "--bogus", "x.edi"), id="unknown-option"),
    pytest.param(("validate", "/nonexistent/file.edi"), id="missing-file"),
    pytest.param(("ack", "--format", "998", OK_940), id="bad-ack-format"),
    pytest.param(("ack", "/nonexistent/file.edi"), id="ack-missing-file"),
    pytest.param(("segments", "/nonexistent/file.edi"), id="segments-missing-file"),
])
def test_usage_and_io_errors_exit_2(args: tuple[str, ...]) -> None:
    args = tuple(str(_file(a)) if a == OK_940 else a for a in args)
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip()


def test_directory_is_an_io_error(tmp_path: Path) -> None:
    proc = run("validate", tmp_path)
    assert proc.returncode == 2
    assert b"cannot read" in proc.stderr


def test_not_edi_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "photo.bin"
    path.write_bytes(bytes(range(256)) * 4)
    proc = run("validate", "--json", path)
    assert proc.returncode == 1
    codes = [e["code"] for e in as_json(proc)["errors"]]
    assert codes[0] == "not_edi" and set(codes) <= {"not_edi", "junk_data"}
    assert run("segments", path).returncode == 1
    assert run("ack", path).returncode == 1


# ------------------------------------------------------------------------------------------------- ack
@pytest.mark.parametrize(("fmt", "set_id"), [("997", "997"), ("999", "999"), ("auto", "997")])
def test_ack_prints_an_acknowledgement_interchange(
    fmt: str, set_id: str, tmp_path: Path, pyx12_check: Callable[[bytes, Path], list[str]]
) -> None:
    path = _file(OK_940)
    proc = run("ack", "--format", fmt, path)
    assert proc.returncode == 0, proc.stderr
    ack = analyze(proc.stdout)
    assert ack.valid, [i.describe() for i in ack.errors]
    assert [t.set_id for t in ack.transactions] == [set_id]
    inbound = analyze(path.read_bytes()).interchanges[0]
    ic = ack.interchanges[0]
    assert (ic.sender_id, ic.receiver_id) == (inbound.receiver_id, inbound.sender_id)
    segs = read_segments(proc.stdout)
    ak = [s for s in segs if s.id in ("AK1", "AK2", "AK5", "AK9", "IK5")]
    assert ak[0].id == "AK1" and ak[-1].id == "AK9"
    assert ak[-1].element(1) == "A"  # group accepted
    if set_id == "997":  # the 004010 family's 997 is checked by pyx12's 997 map (999 maps are 005010-only)
        assert pyx12_check(proc.stdout, tmp_path) == []


def test_ack_rejects_a_bad_set() -> None:
    proc = run("ack", _file(CONTROL_MISMATCH))
    assert proc.returncode == 0, proc.stderr
    segs = read_segments(proc.stdout)
    ak5 = [s for s in segs if s.id == "AK5"]
    assert ak5 and ak5[0].element(1) == "R"
    assert ak5[0].element(2) == "3"  # SE02 does not match ST02


# ------------------------------------------------------------------------------------------------- segments
@pytest.mark.parametrize("name", [OK_940, "856/oopfactory-856-ex3-ellipsis.edi", "856/coedition-856-pipe-3st.edi",
                                  "856/oopfactory-856-ex1-tilde-elemsep.edi"])
def test_segments_prints_a_normalised_view(name: str) -> None:
    path = _file(name)
    proc = run("segments", path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    expected = read_segments(path.read_bytes())
    assert len(lines) == len(expected)
    for line, seg in zip(lines, expected, strict=True):
        assert line.endswith("~")
        assert line[:-1].split("*")[0] == seg.id
        assert len(line[:-1].split("*")) == len(seg.elements) or seg.id == "ISA"
    assert lines[0].startswith("ISA*") and lines[-1].startswith("IEA*")
