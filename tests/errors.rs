//! Every rejection of SPEC §8 that `Query::from_pairs_with_paging` (the wire's parser: query
//! and paging) makes, one test each: the variant, the
//! parameter at fault, and a message that names the parameter, quotes the value (cut to 64
//! characters) and says what is allowed.

use backup_summaries::{Field, Operation, Param, Query, QueryError};

/// The error `from_pairs_with_paging` gives for `pairs`, which must be rejected.
fn rejected(op: Operation, pairs: &[(&str, &str)]) -> QueryError {
    match Query::from_pairs_with_paging(op, pairs.iter().copied()) {
        Ok(q) => panic!("{pairs:?} accepted for {op}: {q:?}"),
        Err(e) => e,
    }
}

/// Checks an `Invalid` error for `param` and `value`: the quoted value is the first 64
/// characters, and the message names the parameter, quotes the value and contains every one
/// of `allowed`.
fn assert_invalid(err: &QueryError, param: Param, value: &str, allowed: &[&str]) {
    let cut: String = value.chars().take(64).collect();
    match err {
        QueryError::Invalid {
            param: p, value: v, ..
        } => {
            assert_eq!(*p, param, "{err:?}");
            assert_eq!(&**v, cut, "{err:?}");
        }
        other => panic!("expected Invalid for {param}, got {other:?}"),
    }
    assert_eq!(err.param(), param);
    let msg = err.to_string();
    assert!(msg.contains(param.as_str()), "{msg}");
    assert!(msg.contains(&format!("{cut:?}")), "{msg}");
    for a in allowed {
        assert!(msg.contains(a), "{msg} should mention {a}");
    }
}

/// `value` for `param` is rejected as invalid for `op`.
fn check(op: Operation, param: Param, value: &str, allowed: &[&str]) {
    let err = rejected(op, &[(param.as_str(), value)]);
    assert_invalid(&err, param, value, allowed);
}

#[test]
fn unknown_state_is_rejected() {
    check(
        Operation::Backup,
        Param::Field(Field::State),
        "DONE",
        &["COMPLETED", "EXPIRED", "ANY", "AGGREGATE_ALL"],
    );
    // States are case-sensitive.
    check(
        Operation::Restore,
        Param::Field(Field::State),
        "completed",
        &["COMPLETED", "ANY", "AGGREGATE_ALL"],
    );
    check(
        Operation::Scan,
        Param::Field(Field::State),
        "any",
        &["COMPLETED_WITH_ISSUES", "CANCELED"],
    );
}

#[test]
fn state_of_another_operation_is_rejected() {
    check(
        Operation::Backup,
        Param::Field(Field::State),
        "COMPLETING",
        &["COMPLETED", "ANY", "AGGREGATE_ALL"],
    );
    check(
        Operation::Copy,
        Param::Field(Field::State),
        "EXPIRED",
        &["COMPLETING", "ANY"],
    );
    check(
        Operation::Restore,
        Param::Field(Field::State),
        "PARTIAL",
        &["PENDING", "ANY"],
    );
    check(
        Operation::Scan,
        Param::Field(Field::State),
        "PENDING",
        &["COMPLETED_WITH_ISSUES", "ANY"],
    );
    check(
        Operation::Backup,
        Param::Field(Field::State),
        "COMPLETED_WITH_ISSUES",
        &["COMPLETED", "ANY"],
    );
    let err = rejected(Operation::Backup, &[("State", "COMPLETING")]);
    assert!(
        !err.to_string().contains("COMPLETING,"),
        "{err} lists a copy-only state"
    );
}

#[test]
fn unknown_aggregation_period_is_rejected() {
    for value in ["TWO_DAYS", "one_day", "", "7"] {
        check(
            Operation::Copy,
            Param::AggregationPeriod,
            value,
            &["ONE_DAY", "SEVEN_DAYS", "FOURTEEN_DAYS"],
        );
    }
}

#[test]
fn unknown_malware_scanner_is_rejected() {
    for value in ["MACIE", "guardduty", ""] {
        check(
            Operation::Scan,
            Param::Field(Field::MalwareScanner),
            value,
            &["GUARDDUTY", "ANY", "AGGREGATE_ALL"],
        );
    }
}

#[test]
fn unknown_scan_result_status_is_rejected() {
    for value in ["CLEAN", "threats_found", "unknown", ""] {
        check(
            Operation::Scan,
            Param::Field(Field::ScanResultStatus),
            value,
            &[
                "NO_THREATS_FOUND",
                "THREATS_FOUND",
                "UNKNOWN",
                "ANY",
                "AGGREGATE_ALL",
            ],
        );
    }
}

#[test]
fn account_id_not_twelve_digits_is_rejected() {
    for value in [
        "",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "-12345678901",
        "any",
        "１２３４５６７８９０１２",
    ] {
        check(
            Operation::Backup,
            Param::Field(Field::AccountId),
            value,
            &["12 digits", "ANY", "AGGREGATE_ALL"],
        );
    }
    // A long value is quoted cut to its first 64 characters.
    let long = "1".repeat(100);
    let err = rejected(Operation::Restore, &[("AccountId", &long)]);
    assert_invalid(&err, Param::Field(Field::AccountId), &long, &["12 digits"]);
    assert!(!err.to_string().contains(&"1".repeat(65)), "{err}");
}

#[test]
fn empty_resource_type_is_rejected() {
    check(
        Operation::Restore,
        Param::Field(Field::ResourceType),
        "",
        &["1 to 50 characters", "ANY", "AGGREGATE_ALL"],
    );
}

#[test]
fn resource_type_over_50_chars_is_rejected() {
    let ok = "é".repeat(50);
    assert!(Query::from_pairs(Operation::Backup, [("ResourceType", ok.as_str())]).is_ok());
    check(
        Operation::Backup,
        Param::Field(Field::ResourceType),
        &"é".repeat(51),
        &["1 to 50 characters"],
    );
    check(
        Operation::Scan,
        Param::Field(Field::ResourceType),
        &"x".repeat(51),
        &["1 to 50 characters"],
    );
}

#[test]
fn empty_message_category_is_rejected() {
    for op in [Operation::Backup, Operation::Copy] {
        check(
            op,
            Param::Field(Field::MessageCategory),
            "",
            &["1 to 50 characters", "ANY", "AGGREGATE_ALL"],
        );
    }
}

#[test]
fn message_category_over_50_chars_is_rejected() {
    assert!(Query::from_pairs(Operation::Copy, [("MessageCategory", "C".repeat(50))]).is_ok());
    for op in [Operation::Backup, Operation::Copy] {
        check(
            op,
            Param::Field(Field::MessageCategory),
            &"c".repeat(51),
            &["1 to 50 characters"],
        );
    }
}

#[test]
fn max_results_not_an_integer_is_rejected() {
    for value in [
        "ten",
        "",
        "1.5",
        "1e3",
        "+5",
        "-1",
        " 5",
        "5 ",
        "0x10",
        "99999999999999999999",
    ] {
        check(Operation::Backup, Param::MaxResults, value, &["1 to 1000"]);
    }
}

#[test]
fn max_results_of_zero_is_rejected() {
    check(Operation::Scan, Param::MaxResults, "0", &["1 to 1000"]);
    check(Operation::Scan, Param::MaxResults, "000", &["1 to 1000"]);
}

#[test]
fn max_results_over_1000_is_rejected() {
    check(
        Operation::Restore,
        Param::MaxResults,
        "1001",
        &["1 to 1000"],
    );
    check(
        Operation::Restore,
        Param::MaxResults,
        "4294967297",
        &["1 to 1000"],
    );
    assert!(Query::from_pairs_with_paging(Operation::Restore, [("MaxResults", "1000")]).is_ok());
    // The query alone has no paging: Query::from_pairs refuses MaxResults, naming it.
    let err = Query::from_pairs(Operation::Restore, [("MaxResults", "1000")]).err();
    assert_eq!(err, Some(QueryError::Paging(Param::MaxResults)));
}

#[test]
fn repeated_parameter_is_rejected() {
    // Repeated even when both values are valid and equal.
    let err = rejected(
        Operation::Backup,
        &[("State", "ANY"), ("ResourceType", "EBS"), ("State", "ANY")],
    );
    assert_eq!(
        err,
        QueryError::Repeated {
            param: Param::Field(Field::State),
            value: "ANY".into()
        }
    );
    assert_eq!(err.param(), Param::Field(Field::State));
    let msg = err.to_string();
    assert!(
        msg.contains("State") && msg.contains("\"ANY\"") && msg.contains("more than once"),
        "{msg}"
    );
    assert!(msg.contains("expected it at most once"), "{msg}");
    let err = rejected(
        Operation::Scan,
        &[("MaxResults", "10"), ("MaxResults", "20")],
    );
    assert_eq!(
        err,
        QueryError::Repeated {
            param: Param::MaxResults,
            value: "20".into()
        }
    );
    // The first fault wins: a bad first value is reported as invalid, not as repeated.
    let err = rejected(
        Operation::Copy,
        &[
            ("AggregationPeriod", "DAILY"),
            ("AggregationPeriod", "ONE_DAY"),
        ],
    );
    assert_invalid(&err, Param::AggregationPeriod, "DAILY", &["ONE_DAY"]);
    // A parameter the operation does not have is ignored, however often it appears.
    assert!(Query::from_pairs(
        Operation::Restore,
        [("MessageCategory", "A"), ("MessageCategory", "B")]
    )
    .is_ok());
}

#[test]
fn empty_next_token_is_rejected() {
    check(
        Operation::Backup,
        Param::NextToken,
        "",
        &["a NextToken returned by the previous page"],
    );
}
