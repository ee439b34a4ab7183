//! Properties of ingest bodies (SPEC §11): `wire::parse_changes` never panics on any bytes,
//! and events written by hand, one per line, as a JSON array or pretty-printed, parse back to
//! the same changes with `time` as the version (sub-second digits truncated).

#![cfg(feature = "wire")]

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

use backup_summaries::wire::parse_changes;
use backup_summaries::{Operation, RecordField, Region, State, Version};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

fn operation() -> impl Strategy<Value = Operation> {
    prop::sample::select(Operation::ALL.to_vec())
}

/// Fragments that steer random bytes towards the event parser's paths.
fn fragments() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\n",
        " ",
        "\"detail-type\"",
        "\"Backup Job State Change\"",
        "\"Copy Job State Change\"",
        "\"Restore Job State Change\"",
        "\"detail\"",
        "\"time\"",
        "\"2026-11-26T10:00:00.5Z\"",
        "\"account\"",
        "\"123456789012\"",
        "\"region\"",
        "\"us-east-1\"",
        "\"backupJobId\"",
        "\"state\"",
        "\"status\"",
        "\"RUNNING\"",
        "\"resourceType\"",
        "\"EBS\"",
        "\"creationDate\"",
        "1795687140.25",
        "-1e300",
        "null",
        "\"messageCategory\"",
        "\"\"",
        "\u{feff}",
        "\"\\u0000\"",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat().into_bytes())
}

/// One valid event's fields: (op, job id, state index, seconds, millis, category).
fn event() -> impl Strategy<Value = (Operation, String, usize, u32, u16, Option<String>)> {
    (
        prop::sample::select(vec![Operation::Backup, Operation::Copy, Operation::Restore]),
        "[a-z0-9-]{1,12}",
        any::<usize>(),
        1_000_000_000u32..2_000_000_000,
        0u16..1000,
        prop::option::of("[A-Za-z]{1,8}"),
    )
}

fn render(
    op: Operation,
    id: &str,
    state: State,
    secs: u32,
    ms: u16,
    category: Option<&str>,
) -> String {
    let (kind, detail_type, state_field) = match op {
        Operation::Copy => ("copy", "Copy Job State Change", "state"),
        Operation::Restore => ("restore", "Restore Job State Change", "status"),
        _ => ("backup", "Backup Job State Change", "state"),
    };
    let time = chrono::DateTime::from_timestamp(i64::from(secs), u32::from(ms) * 1_000_000)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let category = match (op, category) {
        (Operation::Restore, _) | (_, None) => String::new(),
        (_, Some(c)) => format!(r#","messageCategory":"{c}""#),
    };
    format!(
        r#"{{"version":"0","detail-type":"{detail_type}","source":"aws.backup","account":"123456789012","time":"{time}","region":"eu-west-1","detail":{{"{kind}JobId":"{id}","{state_field}":"{}","resourceType":"EBS","creationDate":"2026-11-26T09:00:00Z"{category}}}}}"#,
        state.as_str()
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_changes_never_panics(op in operation(), bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_changes(op, &bytes, None);
    }

    #[test]
    fn parse_changes_never_panics_on_event_like_input(op in operation(), bytes in fragments()) {
        let _ = parse_changes(op, &bytes, Region::parse("us-east-1").ok().as_ref());
    }

    #[test]
    fn events_parse_back_in_every_layout(events in prop::collection::vec(event(), 1..8), layout in 0..3u8) {
        let op = events.first().map_or(Operation::Backup, |e| e.0);
        let states = op.states();
        let mut texts = Vec::new();
        let mut want = Vec::new();
        for (_, id, state, secs, ms, category) in &events {
            let state = states[state % states.len()];
            texts.push(render(op, id, state, *secs, *ms, category.as_deref()));
            want.push((id.clone(), state, *secs, category.as_ref().filter(|_| op != Operation::Restore).map(|c| c.to_ascii_uppercase())));
        }
        let body = match layout {
            0 => texts.join("\n"),
            1 => format!("[{}]", texts.join(",\n")),
            _ => texts.iter().map(|t| t.replace(",\"", ",\n  \"")).collect::<Vec<_>>().join("\n\n"),
        };
        let changes = parse_changes(op, body.as_bytes(), None);
        prop_assert!(changes.is_ok(), "{:?}\n{}", changes.err(), body);
        let got: Vec<_> = changes.unwrap_or_default().into_iter().map(|(r, v)| (
            r.job_id().map(|i| i.as_str().to_owned()).unwrap_or_default(),
            r.state(),
            v.map_or(0, Version::as_secs),
            r.message_category().map(|c| c.as_str().to_owned()),
        )).collect();
        prop_assert_eq!(got, want);
        // the same events on another operation's path are rejected, naming detail-type
        let other = if op == Operation::Copy { Operation::Backup } else { Operation::Copy };
        let e = parse_changes(other, body.as_bytes(), None);
        prop_assert_eq!(e.err().and_then(|e| e.error().field()), Some(RecordField::DetailType));
    }
}
