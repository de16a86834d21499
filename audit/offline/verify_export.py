#!/usr/bin/env python3
"""Check a Shopsafe audit export against its anchored digests, offline, with the standard
library only (Python 3.8+). Shipped in the digest download; see docs/audit.md.

    python3 verify_export.py audit-export.jsonl digests/*.json

First check each digest's Ed25519 signature with openssl (this script does not; the standard
library has no Ed25519):

    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in D.json -sigfile D.sig

Then this script checks, for a JSON Lines export that starts at event 1:
  * the events are numbered 1, 2, 3, ... with no gap, and each event's prev_hash is the hash
    of the event before it;
  * the keyless SHA-256 of each event's canonical bytes, folded from the first event
    (root = sha256(root + content_hash)), equals the content_root of every digest it reaches,
    and the event at the digest's last_sequence carries the digest's last_link.
So an event edited, removed, inserted or re-ordered before an anchored moment shows up here.
It cannot check each link's HMAC (that needs the chain key, which never leaves the operator);
the operator's ``manage.py audit_verify`` does.
"""

from __future__ import annotations

import hashlib
import json
import sys

GENESIS = "0" * 64
FIELDS = {  # canonical payload key -> export column
    "sequence": "sequence",
    "prev_hash": "prev_hash",
    "time": "time",
    "event_type": "event_type",
    "outcome": "outcome",
    "action": "action",
    "actor_kind": "actor_kind",
    "actor_id": "actor_id",
    "actor_name": "actor_name",
    "actor_email": "actor_email",
    "on_behalf_of_id": "on_behalf_of_id",
    "on_behalf_of_name": "on_behalf_of_name",
    "on_behalf_of_email": "on_behalf_of_email",
    "ip": "ip",
    "user_agent": "user_agent",
    "request_id": "request_id",
    "target_type": "target_type",
    "target_id": "target_id",
    "target_label": "target_label",
    "changes": "changes",
    "data": "data",
}


def content_hash(row: dict) -> str:
    payload = {key: row[column] for key, column in FIELDS.items()}
    payload["v"] = row.get("chain_version") or 1
    if payload["v"] >= 2:
        payload["key_id"] = row["key_id"]
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def verify(export_lines, digests: list[dict]) -> list[str]:
    """The problems found (empty: everything checked holds)."""
    problems: list[str] = []
    wanted = {digest["last_sequence"]: digest for digest in digests if digest["last_sequence"]}
    root, previous, expected = GENESIS, GENESIS, 1
    for line in export_lines:
        if not line.strip():
            continue
        row = json.loads(line)
        if row["sequence"] != expected:
            problems.append(f"event {expected}: missing (found {row['sequence']} instead)")
            return problems
        if row["prev_hash"] != previous:
            problems.append(f"event {expected}: does not link to the event before it")
            return problems
        root = hashlib.sha256(bytes.fromhex(root) + bytes.fromhex(content_hash(row))).hexdigest()
        digest = wanted.pop(expected, None)
        if digest is not None:
            if digest["content_root"] != root:
                problems.append(
                    f"event {expected}: the events up to here differ from what the digest "
                    f"of {digest['time']} anchored"
                )
                return problems
            if digest["last_link"] != row["hash"]:
                problems.append(f"event {expected}: its hash differs from the digest's last_link")
                return problems
        previous, expected = row["hash"], expected + 1
    for sequence in sorted(wanted):
        problems.append(
            f"digest of {wanted[sequence]['time']} anchors event {sequence}, "
            f"beyond this export (last event {expected - 1})"
        )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    digests = []
    for name in argv[1:]:
        with open(name, "rb") as handle:
            digests.append(json.loads(handle.read()))
    with open(argv[0], encoding="utf-8") as export:
        problems = verify(export, digests)
    for problem in problems:
        print("FAILED:", problem)
    if not problems:
        print(f"OK: the export matches {len(digests)} digest(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
