#!/usr/bin/env python3
"""boto3 against `backup-summaries serve`: every operation, parameter mode, period, caller and
error, checked row for row against the fixture (see harness.py). Plain Python, no pytest:

    BACKUP_SUMMARIES_BIN=${CARGO_TARGET_DIR:-target}/debug/backup-summaries python3 cli/tests/interop/test_boto3.py [NAME...]

Prints PASS/FAIL per test and, last, exactly one line `N passed, M failed`; exit 1 on failure.
"""

import sys

sys.dont_write_bytecode = True

import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

import harness as h  # noqa: E402
from harness import (  # noqa: E402
    DADM, DEFAULT, EMPTY, MEM1, MEM2, MGMT, OPS, R1, R2, SOLO, check, check_rows, test,
)

try:
    from botocore.exceptions import ClientError
except ImportError:  # reported by the first test that needs boto3
    ClientError = None


def server():
    return h.fixture_server()


def records(op):
    return h.fixture().records[op]


_clients = {}


def client(account=MGMT, region=R1, validate=True):
    key = (server().url, account, region, validate)
    if key not in _clients:
        _clients[key] = h.boto3_client(server().url, account=account, region=region,
                                       validate=validate)
    return _clients[key]


def check_query(op, params, account=MGMT, region=R1, cl=None):
    """One query through boto3 (all pages) must equal the reference rows."""
    cl = cl or client(account, region)
    rows, responses = h.call_all(cl, op, params)
    expected = h.expected_rows(op, records(op), params, caller=account, region=region)
    check_rows(rows, expected, f"{op} {params} as {account}@{region}")
    period = params.get("AggregationPeriod", "ONE_DAY")
    for resp in responses:
        check(resp.get("AggregationPeriod") == period,
              f"AggregationPeriod {resp.get('AggregationPeriod')!r}, expected {period!r}")
    return rows


def expect_invalid(fn, param=None, what=""):
    """fn() must raise ClientError InvalidParameterValueException / HTTP 400."""
    try:
        resp = fn()
    except ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        check(err.get("Code") == "InvalidParameterValueException",
              f"{what}: error code {err.get('Code')!r}, expected InvalidParameterValueException")
        check(status == 400, f"{what}: HTTP {status}, expected 400")
        msg = err.get("Message") or ""
        if param:
            check(param in msg, f"{what}: message {msg!r} does not name the parameter {param}")
        check(e.response.get("ResponseMetadata", {}).get("RequestId"),
              f"{what}: no x-amzn-RequestId on the error response")
        return e
    raise AssertionError(f"{what}: expected InvalidParameterValueException, got {resp!r}")


# ------------------------------------------------------------------------------------------
# Pinned numbers: a few answers written out by hand from the fixture, independent of the
# reference model (and checked against it, so the model is checked too).
# ------------------------------------------------------------------------------------------

def _d(day):
    return dt.datetime(2026, 11, day, tzinfo=dt.timezone.utc)


def _row(acct, count, start, end, region=R1, **dims):
    row = {"Region": region, "AccountId": acct}
    row.update(dims)
    row.update({"Count": count, "StartTime": start, "EndTime": end})
    return row


AG = "AGGREGATE_ALL"
PINS = [
    # backup, management, org total over 14 days: b01-b07, b09, b11-b13 (b08 truncated to
    # 11-12T23:59:59.999, b10 tomorrow, b17 too old, b14-b16 outside the organization)
    ("backup", MGMT, R1, {"AccountId": AG, "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(AG, 11, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory=AG)]),
    # the same over 7 days: minus b06 (11-19T23:59:59.999) and b07 (11-13)
    ("backup", MGMT, R1, {"AccountId": AG, "AggregationPeriod": "SEVEN_DAYS"},
     [_row(AG, 9, _d(20), _d(27), State=AG, ResourceType=AG, MessageCategory=AG)]),
    # member, all defaults (own account, ONE_DAY): b07 on 11-13 and b09 (after NOW) on 11-26
    ("backup", MEM1, R1, {},
     [_row(MEM1, 1, _d(13), _d(14), State=AG, ResourceType=AG, MessageCategory=AG),
      _row(MEM1, 1, _d(26), _d(27), State=AG, ResourceType=AG, MessageCategory=AG)]),
    # member asking for another account still gets its own jobs, shown under its own id
    ("backup", MEM1, R1, {"AccountId": MEM2, "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MEM1, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory=AG)]),
    # categories: absent first, case-insensitive merge of SUCCESS/Success, upper case
    ("backup", MGMT, R1, {"MessageCategory": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MGMT, 1, _d(13), _d(27), State=AG, ResourceType=AG),
      _row(MGMT, 1, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="ACCESS_DENIED"),
      _row(MGMT, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS")]),
    # a specific category matches case-insensitively and is shown upper case
    ("backup", MGMT, R1, {"AccountId": "ANY", "MessageCategory": "success",
                          "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MGMT, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS"),
      _row(DADM, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS"),
      _row(MEM1, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS"),
      _row(MEM2, 2, _d(13), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS")]),
    # eu-west-1: b18 (MGMT), b19+b20 (MEM1; b20 by its Region member), b21 (DADM, by its
    # RecoveryPointArn); b22 is SOLO, outside the organization
    ("backup", MGMT, R2, {"AccountId": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MGMT, 1, _d(13), _d(27), R2, State=AG, ResourceType=AG, MessageCategory=AG),
      _row(DADM, 1, _d(13), _d(27), R2, State=AG, ResourceType=AG, MessageCategory=AG),
      _row(MEM1, 2, _d(13), _d(27), R2, State=AG, ResourceType=AG, MessageCategory=AG)]),
    # standalone caller: b14 and b15
    ("backup", SOLO, R1, {"State": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(SOLO, 1, _d(13), _d(27), State="COMPLETED", ResourceType=AG, MessageCategory=AG),
      _row(SOLO, 1, _d(13), _d(27), State="FAILED", ResourceType=AG, MessageCategory=AG)]),
    # management asking for an account outside the organization: empty, not an error
    ("backup", MGMT, R1, {"AccountId": SOLO, "AggregationPeriod": "FOURTEEN_DAYS"}, []),
    ("backup", MGMT, R1, {"AccountId": EMPTY, "AggregationPeriod": "FOURTEEN_DAYS"}, []),
    # copy: c03 + c04 (lower-case category) merge; c01+c13 (SUCCESS) and c02 (absent) for MGMT
    ("copy", DADM, R1, {"AccountId": "ANY", "MessageCategory": "ANY",
                        "AggregationPeriod": "SEVEN_DAYS"},
     [_row(MGMT, 1, _d(20), _d(27), State=AG, ResourceType=AG),
      _row(MGMT, 2, _d(20), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS"),
      _row(DADM, 2, _d(20), _d(27), State=AG, ResourceType=AG, MessageCategory="ACCESS_DENIED"),
      _row(MEM2, 1, _d(20), _d(27), State=AG, ResourceType=AG, MessageCategory="SUCCESS")]),
    # copy in eu-west-1: c09 by SourceBackupVaultArn (not Destination), c10 past an ARN with
    # an empty region field
    ("copy", MGMT, R2, {"AccountId": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MGMT, 1, _d(13), _d(27), R2, State=AG, ResourceType=AG, MessageCategory=AG),
      _row(MEM1, 1, _d(13), _d(27), R2, State=AG, ResourceType=AG, MessageCategory=AG)]),
    # restore: "Storage Gateway" r04 + r12; the State dimension comes from "Status"
    ("restore", MEM1, R1, {"ResourceType": "Storage Gateway", "State": "ANY",
                           "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MEM1, 1, _d(13), _d(27), State="COMPLETED", ResourceType="Storage Gateway"),
      _row(MEM1, 1, _d(13), _d(27), State="FAILED", ResourceType="Storage Gateway")]),
    # restore, member, days: r06 11-14, r04 + r12 11-19, r05 (11-26T23:59:59.999) 11-26
    ("restore", MEM2, R1, {}, [_row(MEM2, 1, _d(14), _d(15), State=AG, ResourceType=AG)]),
    ("restore", MEM1, R1, {},
     [_row(MEM1, 2, _d(19), _d(20), State=AG, ResourceType=AG),
      _row(MEM1, 1, _d(26), _d(27), State=AG, ResourceType=AG)]),
    # scan: result status absent first (s03), then NO_THREATS_FOUND (s01, s13), THREATS_FOUND
    ("scan", MGMT, R1, {"ScanResultStatus": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MGMT, 1, _d(13), _d(27), State=AG, ResourceType=AG, MalwareScanner=AG),
      _row(MGMT, 2, _d(13), _d(27), State=AG, ResourceType=AG, MalwareScanner=AG,
           ScanResultStatus="NO_THREATS_FOUND"),
      _row(MGMT, 1, _d(13), _d(27), State=AG, ResourceType=AG, MalwareScanner=AG,
           ScanResultStatus="THREATS_FOUND")]),
    # scan member MEM1: s05 has no scanner -> not in GUARDDUTY; s06 is
    ("scan", MEM1, R1, {"MalwareScanner": "GUARDDUTY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MEM1, 1, _d(13), _d(27), State=AG, ResourceType=AG, MalwareScanner="GUARDDUTY",
           ScanResultStatus=AG)]),
    ("scan", MEM1, R1, {"MalwareScanner": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"},
     [_row(MEM1, 1, _d(13), _d(27), State=AG, ResourceType=AG, ScanResultStatus=AG),
      _row(MEM1, 1, _d(13), _d(27), State=AG, ResourceType=AG, MalwareScanner="GUARDDUTY",
           ScanResultStatus=AG)]),
]


@test
def test_reference_model_agrees_with_hand_pins():
    # No server needed: guards the expected-rows model that the other tests rely on.
    c = h.Collector()
    for op, account, region, params, pinned in PINS:
        c.run(f"{op} {params} as {account}@{region}", lambda: check_rows(
            h.expected_rows(op, records(op), params, caller=account, region=region), pinned,
            "reference model vs hand pin"))
    c.done()


@test
def test_listening_line_gives_real_port():
    url = server().url
    check(re.fullmatch(r"http://127\.0\.0\.1:\d+", url), f"unexpected URL {url!r}")
    check(int(url.rsplit(":", 1)[1]) > 0, f"port 0 in {url!r}")


@test
def test_hand_pinned_answers():
    c = h.Collector()
    for op, account, region, params, pinned in PINS:
        def one(op=op, account=account, region=region, params=params, pinned=pinned):
            rows, _ = h.call_all(client(account, region), op, params)
            check_rows(rows, pinned, "server vs hand pin")
        c.run(f"{op} {params} as {account}@{region}", one)
    c.done()


# ------------------------------------------------------------------------------------------
# Every operation x every parameter mode
# ------------------------------------------------------------------------------------------

SPECIFIC = {
    "backup": {"State": ["COMPLETED", "FAILED", "CREATED"],
               "ResourceType": ["EBS", "RDS", "ebs", "Nope"],
               "MessageCategory": ["SUCCESS", "success", "Success", "ACCESS_DENIED", "NOPE"]},
    "copy": {"State": ["COMPLETED", "COMPLETING", "FAILING", "CREATED"],
             "ResourceType": ["EBS", "EFS", "RDS", "Nope"],
             "MessageCategory": ["SUCCESS", "Access_Denied", "TIMEOUT", "NOPE"]},
    "restore": {"State": ["COMPLETED", "PENDING", "RUNNING", "CREATED"],
                "ResourceType": ["EBS", "Storage Gateway", "S3", "Nope"]},
    "scan": {"State": ["COMPLETED", "COMPLETED_WITH_ISSUES", "CANCELED", "CREATED"],
             "ResourceType": ["EBS", "EC2", "S3", "Nope"],
             "MalwareScanner": ["GUARDDUTY"],
             "ScanResultStatus": ["NO_THREATS_FOUND", "THREATS_FOUND", "UNKNOWN"]},
}
CALLERS = [MGMT, DADM, MEM1, MEM2, SOLO]


def _dimension_modes(opname):
    op = OPS[opname]
    c = h.Collector()
    clients = {(a, r): client(a, r) for a in CALLERS for r in (R1, R2)}
    for dim in op.dims:
        for value in SPECIFIC[opname][dim] + ["ANY", "AGGREGATE_ALL", None]:
            # context 1: the other dimensions and the period omitted
            # context 2: the other dimensions ANY, every account, FOURTEEN_DAYS
            # context 3: the other dimensions AGGREGATE_ALL, SEVEN_DAYS, eu-west-1
            contexts = [
                ({}, R1),
                (dict({d: "ANY" for d in op.dims if d != dim}, AccountId="ANY",
                      AggregationPeriod="FOURTEEN_DAYS"), R1),
                (dict({d: "AGGREGATE_ALL" for d in op.dims if d != dim},
                      AggregationPeriod="SEVEN_DAYS"), R2),
            ]
            for base, region in contexts:
                params = dict(base)
                if value is not None:
                    params[dim] = value
                for account in CALLERS:
                    c.run(f"{params} as {account}@{region}", check_query, opname, params,
                          account, region, clients[(account, region)])
    c.done()


@test
def test_backup_every_dimension_mode():
    _dimension_modes("backup")


@test
def test_copy_every_dimension_mode():
    _dimension_modes("copy")


@test
def test_restore_every_dimension_mode():
    _dimension_modes("restore")


@test
def test_scan_every_dimension_mode():
    _dimension_modes("scan")


@test
def test_account_id_modes_and_roles():
    # specific (own, other member, admin, outsider, empty member), ANY, AGGREGATE_ALL, omitted,
    # for the management account, the delegated admin, members, a standalone account
    c = h.Collector()
    for opname in OPS:
        for account in CALLERS + [DEFAULT, EMPTY]:
            cl = client(account)
            for value in [MGMT, DADM, MEM1, MEM2, SOLO, EMPTY, "ANY", "AGGREGATE_ALL", None]:
                params = {"State": "ANY"} if value is None else {"AccountId": value, "State": "ANY"}
                c.run(f"{opname} {params} as {account}", check_query, opname, params, account,
                      R1, cl)
    c.done()


@test
def test_member_sees_only_own_jobs_management_sees_organization():
    for opname in OPS:
        own = {MEM1}
        rows, _ = h.call_all(client(MEM1), opname, {"AccountId": "ANY"})
        check({r["AccountId"] for r in rows} <= own, f"{opname}: member saw {rows}")
        rows, _ = h.call_all(client(MGMT), opname, {"AccountId": "ANY"})
        seen = {r["AccountId"] for r in rows}
        check(SOLO not in seen and DEFAULT not in seen,
              f"{opname}: management saw accounts outside the organization: {seen}")
    # the delegated administrator is in the organization although Accounts does not list it
    rows, _ = h.call_all(client(MGMT), "backup",
                         {"AccountId": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"})
    check(DADM in {r["AccountId"] for r in rows}, f"DADM jobs missing for management: {rows}")
    rows, _ = h.call_all(client(DADM), "backup",
                         {"AccountId": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"})
    check({r["AccountId"] for r in rows} == {MGMT, DADM, MEM1, MEM2},
          f"delegated admin should see the whole organization: {rows}")


@test
def test_all_dimensions_any_every_period_every_caller_both_regions():
    c = h.Collector()
    for opname, op in OPS.items():
        for period in ["ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS", None]:
            params = {d: "ANY" for d in op.dims}
            params["AccountId"] = "ANY"
            if period:
                params["AggregationPeriod"] = period
            for account in CALLERS + [DEFAULT]:
                for region in (R1, R2):
                    c.run(f"{opname} {params} as {account}@{region}", check_query, opname,
                          params, account, region)
    c.done()


@test
def test_start_and_end_time_are_datetimes_on_the_day_grid():
    spans = {"ONE_DAY": 1, "SEVEN_DAYS": 7, "FOURTEEN_DAYS": 14}
    for opname, op in OPS.items():
        for period, days in spans.items():
            resp = getattr(client(MGMT), op.method)(AccountId="ANY", AggregationPeriod=period)
            rows = resp[op.list_key]
            check(rows, f"{opname} {period}: no rows")
            for r in rows:
                for k in ("StartTime", "EndTime"):
                    check(isinstance(r[k], dt.datetime) and r[k].tzinfo is not None,
                          f"{k} is {r[k]!r}, expected an aware datetime")
                    check((r[k].timestamp() % 86400) == 0, f"{k} {r[k]} not at 00:00 UTC")
                check(r["EndTime"] - r["StartTime"] == dt.timedelta(days=days),
                      f"{period}: {r['StartTime']} .. {r['EndTime']}")
                check(r["EndTime"] <= _d(27), f"bucket ends after tomorrow: {r}")
                check(r["StartTime"] >= _d(13), f"bucket starts before the window: {r}")
                check(isinstance(r["Count"], int) and r["Count"] > 0, f"bad Count in {r}")


@test
def test_empty_answers_have_empty_list_and_no_token():
    for opname, op in OPS.items():
        for params in ({"AccountId": SOLO}, {"ResourceType": "ebs"}, {"ResourceType": "Nope"},
                       {"State": "CREATED", "AccountId": MEM2}):
            resp = getattr(client(MGMT), op.method)(**params)
            check(resp.get(op.list_key) == [], f"{opname} {params}: {resp.get(op.list_key)!r}")
            check("NextToken" not in resp, f"{opname} {params}: NextToken on an empty answer")
            raw = h.raw_get(server().url, op.route, h.qs(params.items()), account=MGMT)
            check(raw.status == 200 and raw.json().get(op.list_key) == [],
                  f"{opname} {params}: raw body {raw!r}")


# ------------------------------------------------------------------------------------------
# Pagination
# ------------------------------------------------------------------------------------------

def _all_any(op):
    p = {d: "ANY" for d in op.dims}
    p["AccountId"] = "ANY"
    return p


@test
def test_next_token_loop_max_results_1():
    for opname, op in OPS.items():
        params = _all_any(op)
        expected = h.expected_rows(op, records(opname), params)
        check(len(expected) >= 4, f"{opname}: fixture too small for a paging test")
        cl = client(MGMT)
        rows, token, pages = [], None, 0
        while True:
            p = dict(params, MaxResults=1)
            if token:
                p["NextToken"] = token
            resp = getattr(cl, op.method)(**p)
            pages += 1
            page = resp[op.list_key]
            check(len(page) == 1, f"{opname} page {pages}: {len(page)} rows with MaxResults=1")
            rows += page
            token = resp.get("NextToken")
            more = len(rows) < len(expected)
            check(bool(token) == more,
                  f"{opname} page {pages}: NextToken {'missing' if more else 'present'} "
                  f"after {len(rows)} of {len(expected)} rows")
            if not token or pages > len(expected) + 1:
                break
        check_rows(rows, expected, f"{opname}: pages of 1 concatenated")


@test
def test_page_sizes_may_change_between_pages():
    for opname, op in OPS.items():
        for params in (_all_any(op), {}, {"AccountId": "ANY", "State": "ANY",
                                          "AggregationPeriod": "FOURTEEN_DAYS"}):
            expected = h.expected_rows(op, records(opname), params)
            cl = client(MGMT)
            sizes = [2, 1, 3, 1, 1000]
            rows, token = [], None
            for i in range(len(expected) + 2):
                size = sizes[i % len(sizes)]
                p = dict(params, MaxResults=size)
                if token:
                    p["NextToken"] = token
                resp = getattr(cl, op.method)(**p)
                page = resp[op.list_key]
                check(len(page) <= size, f"{len(page)} rows with MaxResults={size}")
                check(page or not expected, f"{opname}: empty page in a non-empty answer")
                rows += page
                token = resp.get("NextToken")
                if not token:
                    break
            check_rows(rows, expected, f"{opname} {params}: varying page sizes")


@test
def test_max_results_bounds_are_accepted():
    for opname, op in OPS.items():
        for n in (1, 500, 1000):
            resp = getattr(client(MGMT), op.method)(AccountId="ANY", MaxResults=n)
            check(len(resp[op.list_key]) <= n, f"{opname} MaxResults={n}")


@test
def test_boto3_paginator_where_available():
    cl = client(MGMT)
    paginated = [name for name, op in OPS.items() if cl.can_paginate(op.method)]
    print(f"    note: boto3 can paginate: {paginated or 'none'}")
    for opname in paginated:
        op = OPS[opname]
        params = _all_any(op)
        expected = h.expected_rows(op, records(opname), params)
        for size in (1, 2, 1000):
            pages = list(cl.get_paginator(op.method).paginate(
                **params, PaginationConfig={"PageSize": size}))
            rows = [r for p in pages for r in p[op.list_key]]
            check_rows(rows, expected, f"{opname} paginator PageSize={size}")
            check(all(len(p[op.list_key]) <= size for p in pages), "page larger than PageSize")
        full = cl.get_paginator(op.method).paginate(
            **params, PaginationConfig={"PageSize": 1}).build_full_result()
        check_rows(full[op.list_key], expected, f"{opname} build_full_result")
        part = cl.get_paginator(op.method).paginate(
            **params, PaginationConfig={"PageSize": 1, "MaxItems": 2}).build_full_result()
        check_rows(part[op.list_key], expected[:2], f"{opname} MaxItems=2")
        rest = cl.get_paginator(op.method).paginate(
            **params, PaginationConfig={"PageSize": 2, "StartingToken": part["NextToken"]}
        ).build_full_result()
        check_rows(part[op.list_key] + rest[op.list_key], expected,
                   f"{opname} MaxItems then StartingToken")


def _first_token(opname, params, account=MGMT):
    resp = getattr(client(account), OPS[opname].method)(**dict(params, MaxResults=1))
    token = resp.get("NextToken")
    check(token, f"{opname} {params}: no NextToken with MaxResults=1")
    return token


@test
def test_token_is_url_safe_and_short():
    for opname, op in OPS.items():
        token = _first_token(opname, _all_any(op))
        check(len(token.encode()) < 512, f"token of {len(token)} bytes")
        check(re.fullmatch(r"[A-Za-z0-9_\-.~=]+", token), f"token not URL-safe: {token!r}")
        # sent back raw (as-is in the query string) it must work too
        raw = h.raw_get(server().url, op.route,
                        h.qs(_all_any(op).items()) + "&MaxResults=1&NextToken=" + token,
                        account=MGMT)
        check(raw.status == 200, f"raw token round trip: {raw!r}")


@test
def test_token_after_defaults_matches_equivalent_query():
    # A token fingerprints the query after defaults (SPEC §7): an omitted State and
    # State=AGGREGATE_ALL are the same query; likewise the other collapsed dimensions, an
    # omitted AggregationPeriod and ONE_DAY, an omitted AccountId and the caller's own id.
    ran = 0
    for opname, op in OPS.items():
        explicit = {d: "AGGREGATE_ALL" for d in op.dims}
        explicit["AggregationPeriod"] = "ONE_DAY"
        for account, omitted, same in (
                (MGMT, {"AccountId": "ANY"}, dict(explicit, AccountId="ANY")),
                (MEM1, {}, dict(explicit, AccountId=MEM1)),
                (MGMT, dict(explicit, AccountId="ANY"), {"AccountId": "ANY"})):
            expected = h.expected_rows(op, records(opname), omitted, caller=account)
            if len(expected) < 2:
                continue
            ran += 1
            token = _first_token(opname, omitted, account)
            rows, _ = h.call_all(client(account), opname, dict(same, NextToken=token))
            check_rows(rows, expected[1:], f"{opname}: token of {omitted} reused with {same}")
    check(ran >= 4, f"only {ran} cases had two rows")


@test
def test_foreign_or_edited_tokens_are_rejected():
    for opname, op in OPS.items():
        params = _all_any(op)
        token = _first_token(opname, params)
        cl = client(MGMT)
        call = getattr(cl, op.method)
        # another query (one parameter changed; MaxResults does not count)
        expect_invalid(lambda: call(**dict(params, State="AGGREGATE_ALL", NextToken=token)),
                       "NextToken", f"{opname}: token for another query")
        expect_invalid(lambda: call(**dict(params, AggregationPeriod="SEVEN_DAYS",
                                           NextToken=token)),
                       "NextToken", f"{opname}: token for another period")
        # another caller
        other = getattr(client(DADM), op.method)
        expect_invalid(lambda: other(**dict(params, NextToken=token)), "NextToken",
                       f"{opname}: token of another caller")
        # another operation
        other_op = OPS["copy" if opname != "copy" else "backup"]
        other_params = _all_any(other_op)
        expect_invalid(lambda: getattr(cl, other_op.method)(**dict(other_params,
                                                                   NextToken=token)),
                       "NextToken", f"{opname}: token used on {other_op.name}")
        # MaxResults may change: accepted
        resp = call(**dict(params, MaxResults=7, NextToken=token))
        check(op.list_key in resp, "token with another MaxResults rejected")
        # any edited character
        for pos in sorted({0, len(token) // 2, len(token) - 1}):
            ch = token[pos]
            repl = "A" if ch != "A" else "B"
            bad = token[:pos] + repl + token[pos + 1:]
            expect_invalid(lambda: call(**dict(params, NextToken=bad)), "NextToken",
                           f"{opname}: token edited at {pos}")
        # truncated, extended, garbage
        for bad in (token[:-4], token + "AAAA", "garbage", "x" * 600, "%%%", "\u00e9t\u00e9",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"):
            expect_invalid(lambda: call(**dict(params, NextToken=bad)), "NextToken",
                           f"{opname}: token {bad[:20]!r}")


# ------------------------------------------------------------------------------------------
# Callers from the credential
# ------------------------------------------------------------------------------------------

@test
def test_region_comes_from_credential_scope():
    for opname, op in OPS.items():
        params = _all_any(op)
        rows1 = check_query(opname, params, MGMT, R1)
        rows2 = check_query(opname, params, MGMT, R2)
        check(rows2, f"{opname}: fixture has no {R2} rows")
        check(all(r["Region"] == R2 for r in rows2), f"{opname}: non-{R2} row in {rows2}")
        check(all(r["Region"] == R1 for r in rows1), f"{opname}: non-{R1} row in {rows1}")
        rows3 = check_query(opname, params, MGMT, "ap-southeast-2")
        check(rows3 == [], f"{opname}: rows in a region without jobs: {rows3}")


@test
def test_non_numeric_access_key_means_default_account():
    for akid in ("AKIAIOSFODNN7EXAMPLE", "12345", "1234567890123", "ASIAEXAMPLE"):
        for opname, op in OPS.items():
            cl = h.boto3_client(server().url, account=akid, region=R1)
            rows, _ = h.call_all(cl, opname, {"AccountId": "ANY", "State": "ANY"})
            expected = h.expected_rows(op, records(opname), {"AccountId": "ANY", "State": "ANY"},
                                       caller=DEFAULT)
            check(expected, f"{opname}: fixture has no jobs for {DEFAULT}")
            check_rows(rows, expected, f"{opname} with access key {akid!r}")


@test
def test_unsigned_request_uses_default_account_and_region():
    for opname, op in OPS.items():
        params = {"AccountId": "ANY", "State": "ANY"}
        raw = h.raw_get(server().url, op.route, h.qs(params.items()))
        check(raw.status == 200, f"{opname} unsigned: {raw!r}")
        expected = h.expected_rows(op, records(opname), params, caller=DEFAULT, region=R1)
        check_rows(raw.json()[op.list_key], expected, f"{opname} unsigned request")


@test
def test_default_account_flag():
    fx = h.fixture()
    with h.Server.start(fx.data_args() + ["--region", R2, "--default-account", SOLO]) as srv:
        for opname, op in OPS.items():
            params = {"AccountId": "ANY", "State": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"}
            cl = h.boto3_client(srv.url, account="AKIAIOSFODNN7EXAMPLE", region=R1)
            rows, _ = h.call_all(cl, opname, params)
            check_rows(rows, h.expected_rows(op, records(opname), params, caller=SOLO, region=R1),
                       f"{opname} --default-account {SOLO}")
            # unsigned: default account and --region (eu-west-1 here)
            raw = h.raw_get(srv.url, op.route, h.qs(params.items()))
            check(raw.status == 200, f"{raw!r}")
            check_rows(raw.json()[op.list_key],
                       h.expected_rows(op, records(opname), params, caller=SOLO, region=R2),
                       f"{opname} unsigned with --region {R2}")


@test
def test_without_organization_everyone_is_standalone():
    fx = h.fixture()
    with h.Server.start(fx.data_args(with_org=False) + ["--region", R1]) as srv:
        for opname, op in OPS.items():
            for account in (MGMT, DADM, MEM1):
                params = {"AccountId": "ANY", "State": "ANY", "AggregationPeriod": "FOURTEEN_DAYS"}
                rows, _ = h.call_all(h.boto3_client(srv.url, account=account), opname, params)
                check_rows(rows, h.expected_rows(op, records(opname), params, caller=account,
                                                 org=None),
                           f"{opname} as {account} without --organization")


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------

LONG = "x" * 51


def _bad_cases(opname):
    op = OPS[opname]
    cases = [
        ("State", "BOGUS"), ("State", "completed"), ("State", ""), ("State", "any"),
        ("AccountId", "12345"), ("AccountId", "abcdefghijkl"), ("AccountId", "1234567890123"),
        ("AccountId", "any"), ("AccountId", ""), ("AccountId", " 11111111111"),
        ("ResourceType", ""), ("ResourceType", LONG),
        ("AggregationPeriod", "ONE_WEEK"), ("AggregationPeriod", "one_day"),
        ("MaxResults", 1001), ("MaxResults", 100000),
        ("NextToken", "garbage"),
    ]
    other_states = {"backup": ["COMPLETING", "COMPLETED_WITH_ISSUES"],
                    "copy": ["PENDING", "EXPIRED"],
                    "restore": ["EXPIRED", "PARTIAL", "ABORTING"],
                    "scan": ["ABORTED", "PENDING", "CANCELLED"]}[opname]
    cases += [("State", s) for s in other_states]
    if "MessageCategory" in op.dims:
        cases += [("MessageCategory", ""), ("MessageCategory", LONG)]
    if opname == "scan":
        cases += [("MalwareScanner", "BOGUS"), ("MalwareScanner", ""),
                  ("ScanResultStatus", "BOGUS"), ("ScanResultStatus", "")]
    return cases


@test
def test_bad_parameters_are_invalid_parameter_value_400():
    c = h.Collector()
    for opname, op in OPS.items():
        cl = client(MGMT)
        call = getattr(cl, op.method)
        for param, value in _bad_cases(opname):
            c.run(f"{opname} {param}={value!r}", expect_invalid,
                  lambda: call(**{param: value}), param, f"{opname} {param}={value!r}")
    c.done()


@test
def test_max_results_zero_without_client_validation():
    for opname, op in OPS.items():
        cl = client(MGMT, validate=False)
        for value in (0, -1):
            expect_invalid(lambda: getattr(cl, op.method)(MaxResults=value), "MaxResults",
                           f"{opname} MaxResults={value}")


@test
def test_error_message_names_value_cut_to_64_chars():
    cl = client(MGMT)
    value = "Q" * 100
    e = expect_invalid(lambda: cl.list_backup_job_summaries(ResourceType=value), "ResourceType",
                       "100-char ResourceType")
    msg = e.response["Error"]["Message"]
    check("Q" * 64 in msg and "Q" * 65 not in msg, f"value not cut to 64 chars: {msg!r}")
    e = expect_invalid(lambda: cl.list_backup_job_summaries(State="WEIRD"), "State", "State")
    check("WEIRD" in e.response["Error"]["Message"], f"value missing: {e.response['Error']}")


def _check_raw_error(raw, what):
    check(raw.status == 400, f"{what}: HTTP {raw.status}, expected 400: {raw!r}")
    check(raw.headers.get("x-amzn-ErrorType", "").split(":")[0] == "InvalidParameterValueException",
          f"{what}: x-amzn-ErrorType {raw.headers.get('x-amzn-ErrorType')!r}")
    check(raw.headers.get("x-amzn-RequestId"), f"{what}: no x-amzn-RequestId header")
    body = raw.json()
    check(body.get("Code") == "InvalidParameterValueException", f"{what}: body {body!r}")
    check(isinstance(body.get("Message"), str) and body["Message"], f"{what}: body {body!r}")
    return body


@test
def test_raw_bad_queries():
    url = server().url
    for opname, op in OPS.items():
        for query, param in [
            ("State=ANY&State=ANY", "State"),
            ("State=ANY&State=COMPLETED", "State"),
            ("AccountId=ANY&AccountId=ANY", "AccountId"),
            ("AggregationPeriod=ONE_DAY&AggregationPeriod=ONE_DAY", "AggregationPeriod"),
            ("MaxResults=1&MaxResults=2", "MaxResults"),
            ("MaxResults=abc", "MaxResults"),
            ("MaxResults=1.5", "MaxResults"),
            ("MaxResults=0", "MaxResults"),
            ("MaxResults=", "MaxResults"),
            ("MaxResults=99999999999999999999999", "MaxResults"),
            ("State=%FF%FE", "State"),
            ("NextToken=%00%01", "NextToken"),
        ]:
            raw = h.raw_get(url, op.route, query, account=MGMT)
            body = _check_raw_error(raw, f"{opname} ?{query}")
            check(param in body["Message"], f"{opname} ?{query}: message {body['Message']!r}")


@test
def test_restore_route_ignores_message_category():
    url = server().url
    op = OPS["restore"]
    plain = h.raw_get(url, op.route, "State=ANY&AccountId=ANY", account=MGMT)
    check(plain.status == 200, f"{plain!r}")
    for extra in ("MessageCategory=SUCCESS", "MessageCategory=ANY", "MessageCategory=success"):
        raw = h.raw_get(url, op.route, "State=ANY&AccountId=ANY&" + extra, account=MGMT)
        check(raw.status == 200, f"restore with {extra}: {raw!r}")
        check(raw.json() == plain.json(), f"restore with {extra} changed the answer")


@test
def test_query_string_percent_decoding_plus_is_space():
    url = server().url
    op = OPS["restore"]
    expected = h.expected_rows(op, records("restore"),
                               {"ResourceType": "Storage Gateway", "AccountId": "ANY"})
    check(expected, "fixture has no Storage Gateway restore jobs")
    for q in ("ResourceType=Storage+Gateway&AccountId=ANY",
              "ResourceType=Storage%20Gateway&AccountId=ANY",
              "Resource%54ype=Storage%20Gateway&AccountId=%41NY"):
        raw = h.raw_get(url, op.route, q, account=MGMT)
        check(raw.status == 200, f"?{q}: {raw!r}")
        check_rows(raw.json()[op.list_key], expected, f"?{q}")
    rows, _ = h.call_all(client(MGMT), "restore",
                         {"ResourceType": "Storage Gateway", "AccountId": "ANY"})
    check_rows(rows, expected, "boto3 ResourceType='Storage Gateway'")


# ------------------------------------------------------------------------------------------
# Wire details
# ------------------------------------------------------------------------------------------

@test
def test_unknown_paths_are_json_404():
    url = server().url
    for path in ("/audit/nope", "/", "/audit/backup-job-summaries/extra", "/audit/backup-jobs",
                 "/audit/Backup-Job-Summaries"):
        raw = h.raw_get(url, path, account=MGMT)
        check(raw.status == 404, f"GET {path}: HTTP {raw.status}, expected 404")
        body = raw.json()
        check(isinstance(body, dict), f"GET {path}: body {body!r} is not a JSON object")
        ctype = raw.headers.get("Content-Type", "")
        check("json" in ctype, f"GET {path}: Content-Type {ctype!r}")


@test
def test_success_headers_and_body_shape():
    url = server().url
    for opname, op in OPS.items():
        resp = getattr(client(MGMT), op.method)(AccountId="ANY")
        rid = resp["ResponseMetadata"].get("RequestId")
        check(rid, f"{opname}: boto3 saw no x-amzn-RequestId")
        check(resp["ResponseMetadata"]["HTTPStatusCode"] == 200, "status")
        raw = h.raw_get(url, op.route, "AccountId=ANY&State=ANY&MaxResults=2", account=MGMT)
        check(raw.status == 200, f"{raw!r}")
        check(raw.headers.get("x-amzn-RequestId"), f"{opname}: no x-amzn-RequestId header")
        check(raw.headers.get("Content-Type", "").startswith("application/json"),
              f"{opname}: Content-Type {raw.headers.get('Content-Type')!r}")
        body = raw.json()
        check(set(body) <= {op.list_key, "AggregationPeriod", "NextToken"},
              f"{opname}: unexpected members {sorted(body)}")
        check(body.get("AggregationPeriod") == "ONE_DAY", f"{opname}: {body.get('AggregationPeriod')!r}")
        check(isinstance(body.get("NextToken"), str), f"{opname}: NextToken missing with 2 rows/page")
        for row in body[op.list_key]:
            check(None not in row.values(), f"{opname}: null member in {row}")
            check(type(row["Count"]) is int, f"{opname}: Count {row['Count']!r} not an integer")
            for k in ("StartTime", "EndTime"):
                check(isinstance(row[k], (int, float)) and not isinstance(row[k], bool),
                      f"{opname}: {k} {row[k]!r} not epoch seconds")
            allowed = {"Region", "AccountId", "Count", "StartTime", "EndTime"} | set(op.dims)
            check(set(row) <= allowed, f"{opname}: unexpected row members {sorted(set(row) - allowed)}")
        # request ids differ between requests
        raw2 = h.raw_get(url, op.route, "AccountId=ANY&State=ANY&MaxResults=2", account=MGMT)
        check(raw2.headers.get("x-amzn-RequestId") != raw.headers.get("x-amzn-RequestId"),
              f"{opname}: the same x-amzn-RequestId twice")
        check(raw2.json() == body, f"{opname}: same request, different body")


@test
def test_no_null_members_with_absent_categories():
    # rows grouped under an absent MessageCategory / scan result leave the member out
    url = server().url
    for opname, dim in (("backup", "MessageCategory"), ("copy", "MessageCategory"),
                        ("scan", "ScanResultStatus"), ("scan", "MalwareScanner")):
        op = OPS[opname]
        raw = h.raw_get(url, op.route, f"AccountId=ANY&{dim}=ANY&AggregationPeriod=FOURTEEN_DAYS",
                        account=MGMT)
        rows = raw.json()[op.list_key]
        check(any(dim not in r for r in rows), f"{opname}: no row without {dim}: {rows}")
        check(all(r.get(dim, "x") is not None for r in rows), f"{opname}: null {dim}")


# ------------------------------------------------------------------------------------------
# Start-up
# ------------------------------------------------------------------------------------------

BROKEN = [
    # (name, serve flag, file text, words the error should mention (any of))
    ("malformed-json.jsonl", "--backup-jobs",
     json.dumps(h.BACKUP_LINES[0]) + "\n{\"AccountId\": \n", []),
    ("bad-account.jsonl", "--backup-jobs",
     json.dumps(dict(h.BACKUP_LINES[0], AccountId="12345")) + "\n", ["AccountId"]),
    ("bad-state.jsonl", "--backup-jobs",
     json.dumps(h.BACKUP_LINES[0]) + "\n" + json.dumps(dict(h.BACKUP_LINES[1], State="COMPLETING"))
     + "\n", ["State"]),
    ("bad-restore-status.json", "--restore-jobs",
     json.dumps({"RestoreJobs": [dict(h.RESTORE_DOC[0], Status="EXPIRED")]}), ["Status", "State"]),
    ("no-creation-date.jsonl", "--copy-jobs",
     json.dumps({k: v for k, v in h.COPY_LINES[0].items() if k != "CreationDate"}) + "\n",
     ["CreationDate"]),
    ("bad-creation-date.jsonl", "--scan-jobs",
     json.dumps(dict(h.SCAN_LINES[0], CreationDate="yesterday")) + "\n", ["CreationDate"]),
    ("bad-scan-state.jsonl", "--scan-jobs",
     json.dumps(dict(h.SCAN_LINES[0], State="ABORTED")) + "\n", ["State"]),
    ("not-json-at-all.json", "--backup-jobs", "this is not json\n", []),
]


@test
def test_broken_job_file_stops_startup():
    fx = h.fixture()
    c = h.Collector()
    for name, flag, text, words in BROKEN:
        path = fx.path(name)
        with open(path, "w") as f:
            f.write(text)

        def one(flag=flag, path=path, words=words, name=name):
            code, out, err = h.start_expect_failure(fx.data_args(ops=["copy"]) + [flag, path])
            check(code != 0, f"exit code {code}")
            check("listening on" not in out, f"printed a listening line: {out!r}")
            check(err.strip(), "no error message on stderr")
            check(name in err, f"stderr does not name the file {name}: {err.strip()[:300]!r}")
            if words:
                check(any(w in err for w in words),
                      f"stderr {err.strip()[:300]!r} names none of {words}")
        c.run(name, one)

    def missing():
        code, out, err = h.start_expect_failure(["--backup-jobs", fx.path("does-not-exist.jsonl")])
        check(code != 0 and "listening on" not in out, f"exit {code}, stdout {out!r}")
        check("does-not-exist" in err, f"stderr does not name the file: {err.strip()[:300]!r}")
    c.run("missing file", missing)

    def bad_org():
        path = fx.path("bad-org.json")
        with open(path, "w") as f:
            f.write("{\"ManagementAccountId\": \"nope\"")
        code, out, err = h.start_expect_failure(fx.data_args(with_org=False) +
                                                ["--organization", path])
        check(code != 0 and "listening on" not in out, f"exit {code}, stdout {out!r}")
        check(err.strip(), "no error message on stderr")
    c.run("broken organization file", bad_org)
    c.done()


@test
def test_demo_data_set_without_job_files():
    with h.Server.start(["--region", R1]) as srv:
        cl = h.boto3_client(srv.url, account="AKIAIOSFODNN7EXAMPLE")
        counts = {}
        for opname, op in OPS.items():
            resp = getattr(cl, op.method)(AccountId="ANY", State="ANY",
                                          AggregationPeriod="FOURTEEN_DAYS")
            check(op.list_key in resp, f"{opname}: {resp!r}")
            counts[opname] = h.total(resp[op.list_key])
        print(f"    note: demo data, default account, {R1}, 14 days: {counts}")
        # the demo's dates follow --now, so each kind has jobs in the 14-day window
        check(all(counts.values()), f"demo data without jobs for the default account: {counts}")


@test
def test_port_zero_gives_distinct_ports():
    fx = h.fixture()
    with h.Server.start(fx.data_args(ops=["backup"])) as a, \
            h.Server.start(fx.data_args(ops=["backup"])) as b:
        check(a.url != b.url, f"two servers on {a.url}")
        for s in (a, b):
            resp = h.boto3_client(s.url).list_backup_job_summaries(AccountId="ANY")
            check(resp["BackupJobSummaries"], f"{s.url}: no rows")


if __name__ == "__main__":
    if ClientError is None:
        print("boto3/botocore is not installed: python3 -m venv VENV && "
              "VENV/bin/pip install boto3 awscli, then put VENV/bin first on PATH")
        print("0 passed, 1 failed")
        sys.exit(1)
    _ = os.environ.get("BACKUP_SUMMARIES_BIN") or print(
        "BACKUP_SUMMARIES_BIN is not set: every test that needs the binary will fail")
    h.run_tests()
