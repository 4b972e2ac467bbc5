"""Canonical JSON, digests and signatures of report documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attribution.reports.canonical import (
    canonical_bytes,
    content_digest,
    load_private_key,
    load_public_key,
    public_key_fingerprint,
    seal,
    verify_document,
)

CONTENT = {"target": {"kind": "domain", "value": "c2.bad.test"}, "score": 0.97, "n": [3, 1]}
WHEN = "2026-03-12T09:30:00Z"


def test_canonical_form_and_digest_are_fixed() -> None:
    assert canonical_bytes({"b": 1, "a": [1.0, "é"]}) == b'{"a":[1,"\xc3\xa9"],"b":1}'
    assert content_digest({"a": 1}) == content_digest({"a": 1.0})
    # SHA-256 of {"n":[3,1],"score":0.97,"target":{"kind":"domain","value":"c2.bad.test"}}
    assert content_digest(CONTENT) == (
        "54a874cb2e318a9e9815c8d371a75d0c1f3c42d4270ad884a57ca1c25dddb7ae"
    )
    assert content_digest(json.loads(json.dumps(CONTENT, indent=3))) == content_digest(CONTENT)


def test_digest_excludes_generation_time() -> None:
    first, second = seal(CONTENT, WHEN), seal(CONTENT, "2027-01-01T00:00:00Z")
    assert first["digest"] == second["digest"]
    assert first["signature"] is None
    assert verify_document(first).ok


def test_every_single_byte_change_of_the_content_is_detected() -> None:
    document = seal(CONTENT, WHEN)
    text = json.dumps(document, sort_keys=True)
    start = text.index('"content"')
    end = text.index('"digest"')
    detected = 0
    tried = 0
    for position in range(start + len('"content": '), end):
        char = text[position]
        if not (char.isalnum() or char == "."):
            continue
        replacement = "1" if char != "1" else "2"
        changed = text[:position] + replacement + text[position + 1 :]
        try:
            tampered = json.loads(changed)
        except json.JSONDecodeError:
            continue
        tried += 1
        result = verify_document(tampered)
        if tampered["content"] != document["content"]:
            assert not result.ok
            assert "digest mismatch" in result.reason or "format" in result.reason
            detected += 1
    assert tried > 20
    assert detected == tried


def test_signature_binds_digest_and_time(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    loaded = load_private_key(pem)
    document = seal(CONTENT, WHEN, loaded)
    assert document["signature"]["public_key_fingerprint"] == public_key_fingerprint(
        key.public_key()
    )
    result = verify_document(document, trusted_key=load_public_key(pem))
    assert (result.ok, result.signed, result.reason) == (True, True, "digest and signature match")

    for mutate, reason in [
        (
            lambda d: d.__setitem__("generated_at", "2026-03-01T00:00:00Z"),
            "the signature does not match the digest and generation time",
        ),
        (
            lambda d: d["signature"].__setitem__("public_key_fingerprint", "0" * 64),
            "the stated key fingerprint does not match the public key",
        ),
        (lambda d: d["signature"].__setitem__("value", "!!"), "malformed signature block"),
        (lambda d: d["content"].__setitem__("score", 0.5), "digest mismatch"),
        (lambda d: d.__setitem__("report_format", "x"), "unknown report format 'x'"),
    ]:
        tampered = copy.deepcopy(document)
        mutate(tampered)
        outcome = verify_document(tampered)
        assert not outcome.ok
        assert outcome.reason.startswith(reason), outcome.reason

    # Re-signing with another key verifies on its own but not against the trusted key.
    forged = seal(CONTENT, WHEN, Ed25519PrivateKey.generate())
    assert verify_document(forged).ok
    assert "not by the trusted key" in verify_document(forged, trusted_key=key.public_key()).reason
    unsigned = seal(CONTENT, WHEN)
    assert verify_document(unsigned, require_signature=True).reason == "the report is not signed"


def test_report_schema_is_valid_draft_2020_12() -> None:
    import jsonschema

    from attribution.reports.builder import report_schema

    schema = report_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
