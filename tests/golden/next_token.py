#!/usr/bin/env python3
"""Computes the golden NextToken vectors from the documented layout alone (stdlib only).

The layout is the "Token layout (version 1)" table in the docs of `Cursor` (`src/cursor.rs`);
this script does not read or call any Rust code. It prints one line per vector, `<name> <token>`, in the order of
`tests/golden/next_token.txt`, which the Rust tests pin (`src/cursor.rs` unit tests build the
same cursors by hand; `tests/golden_token.rs` runs this script and gets the same tokens from
the public API).

    python3 tests/golden/next_token.py > tests/golden/next_token.txt   # only on a format change
"""

import base64
import struct
import sys

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
INLINE_MAX = 48  # values up to this many bytes are stored inline
PREFIX = 40      # a longer value keeps its FNV-1a hash and at most this many leading bytes

OPERATION_CODE = {"backup": 1, "copy": 2, "restore": 3, "scan": 4}
PERIOD_CODE = {"ONE_DAY": 1, "SEVEN_DAYS": 2, "FOURTEEN_DAYS": 3}
GRID_CODE = {"through_today": 0, "prior_full_days": 1}
# Dimension modes in the canonical query encoding.
COLLAPSE, SPLIT = "AGGREGATE_ALL", "ANY"


def fnv1a(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def put_str(out, text):
    raw = text.encode()
    out += struct.pack("<I", len(raw)) + raw


def put_dim(out, value):
    """A dimension after defaults: collapse 0, split 1, a specific value 2 + u32 len + bytes."""
    if value == COLLAPSE:
        out.append(0)
    elif value == SPLIT:
        out.append(1)
    else:
        out.append(2)
        put_str(out, value)


def fingerprint(operation, account, region, dims, with_issues=False, period="ONE_DAY",
                grid="through_today"):
    """FNV-1a 64 of the canonical query encoding. `dims` maps each of AccountId, State,
    ResourceType, MessageCategory, MalwareScanner, ScanResultStatus to its mode or value after
    defaults (an omitted AccountId is the caller's own account, the others collapse)."""
    enc = bytearray(b"backup-summaries/query/v1")
    enc.append(OPERATION_CODE[operation])
    enc += struct.pack("<Q", account)
    put_str(enc, region)
    for name in ("AccountId", "State", "ResourceType", "MessageCategory", "MalwareScanner",
                 "ScanResultStatus"):
        put_dim(enc, dims.get(name, f"{account:012d}" if name == "AccountId" else COLLAPSE))
    enc.append(1 if with_issues else 0)
    enc.append(PERIOD_CODE[period])
    enc.append(GRID_CODE[grid])
    return fnv1a(bytes(enc))


def key_value(value):
    """One row-key field: absent 0; inline 1, len, bytes; long 2, hash, len, prefix."""
    if value is None:
        return b"\x00"
    raw = value.encode()
    if len(raw) <= INLINE_MAX:
        return bytes([1, len(raw)]) + raw
    end = min(PREFIX, len(raw))
    while end > 0 and (raw[end] & 0xC0) == 0x80:  # back off to a UTF-8 char boundary
        end -= 1
    return b"\x02" + struct.pack("<Q", fnv1a(raw)) + bytes([end]) + raw[:end]


def token(pinned_now_ms, fp, after=None):
    """`after` is None (first position) or (bucket, [six field values or None])."""
    body = bytearray([1]) + struct.pack("<qQ", pinned_now_ms, fp)
    if after is None:
        body.append(0)
    else:
        bucket, values = after
        assert len(values) == 6
        body += bytes([1, bucket])
        for v in values:
            body += key_value(v)
    body += struct.pack("<Q", fnv1a(bytes(body)))
    return base64.urlsafe_b64encode(bytes(body)).rstrip(b"=").decode()


NOW = 1_795_737_599_000  # 2026-11-26T23:59:59Z
ACCOUNT = 123456789012
# 49 characters, 50 bytes: stored as hash + prefix; byte 40 is inside the "é", so the
# prefix is cut back to 39 bytes.
LONG_RESOURCE_TYPE = "x" * 39 + "\u00e9" + "y" * 9


def vectors():
    # backup, State=ANY, MessageCategory=ANY, as 123456789012 in us-east-1; after the row
    # (today = bucket 13, 123456789012, COMPLETED, AGGREGATE_ALL, no category).
    backup_fp = fingerprint("backup", ACCOUNT, "us-east-1",
                            {"State": SPLIT, "MessageCategory": SPLIT})
    yield "backup_state_category", token(NOW, backup_fp, (13, [
        "123456789012", "COMPLETED", "AGGREGATE_ALL", None, None, None]))
    # scan, State=ANY, ResourceType=<long>, MalwareScanner=ANY, ScanResultStatus=ANY,
    # SEVEN_DAYS, as 123456789012 in eu-west-1; after the row (bucket 0, 123456789012,
    # COMPLETED, <long>, -, GUARDDUTY, UNKNOWN).
    scan_fp = fingerprint("scan", ACCOUNT, "eu-west-1",
                          {"State": SPLIT, "ResourceType": LONG_RESOURCE_TYPE,
                           "MalwareScanner": SPLIT, "ScanResultStatus": SPLIT},
                          period="SEVEN_DAYS")
    yield "scan_long_resource_type", token(NOW, scan_fp, (0, [
        "123456789012", "COMPLETED", LONG_RESOURCE_TYPE, None, "GUARDDUTY", "UNKNOWN"]))


def main(argv):
    # Known answers of FNV-1a 64 (the published test vectors).
    assert fnv1a(b"") == 0xCBF29CE484222325
    assert fnv1a(b"a") == 0xAF63DC4C8601EC8C
    if argv[1:]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name, tok in vectors():
        print(f"{name} {tok}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
