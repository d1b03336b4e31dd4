//! Property tests of the schedule parser: no input panics it (nor the fire-time arithmetic after
//! it), and every expression it accepts that is not fixed to past dates has a next fire time.
//! Inputs are built from the grammar's own pieces so most of them reach the deep paths, plus
//! arbitrary text and numbers at the edges of every integer type.

use chrono::{DateTime, Utc};
use jobs_core::schedule::{self, Syntax};
use proptest::prelude::*;

/// Numbers that break naive arithmetic: zero, one, around the field ranges, the integer limits.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100).prop_map(|n| n.to_string()),
        Just(u32::MAX.to_string()),
        Just(u64::MAX.to_string()),
        Just("18446744073709551616".to_owned()),
        Just(i64::MAX.to_string()),
        Just("99999999".to_owned()),
        Just("-1".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn rate() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec!["minute", "minutes", "hour", "hours", "day", "days", "week", "", "secs"]);
    (number(), unit).prop_map(|(n, u)| format!("rate({n} {u})"))
}

fn field() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        number(),
        prop::sample::select(vec!["*", "?", "L", "W", "LW", "MON", "sun", "JAN", "dec", "6#3", "5L", "15W"])
            .prop_map(str::to_owned),
    ];
    let piece = prop_oneof![
        atom.clone(),
        (atom.clone(), atom.clone()).prop_map(|(a, b)| format!("{a}-{b}")),
        (atom.clone(), number()).prop_map(|(a, b)| format!("{a}/{b}")),
        (atom.clone(), atom.clone(), number()).prop_map(|(a, b, c)| format!("{a}-{b}/{c}")),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|p| p.join(","))
}

fn unix() -> impl Strategy<Value = String> {
    prop::collection::vec(field(), 4..7).prop_map(|f| f.join(" "))
}

fn native_cron() -> impl Strategy<Value = String> {
    prop::collection::vec(field(), 5..8).prop_map(|f| format!("cron({})", f.join(" ")))
}

fn at() -> impl Strategy<Value = String> {
    (number(), number(), number(), number()).prop_map(|(y, m, d, h)| format!("at({y}-{m}-{d}T{h}:00:00)"))
}

fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        rate(),
        unix(),
        native_cron(),
        at(),
        prop::sample::select(vec!["@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@reboot"])
            .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn zone() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["UTC", "Europe/Berlin", "America/St_Johns", "Pacific/Kiritimati", "Asia/Kolkata"])
        .prop_map(str::to_owned)
}

/// "Now", from the epoch to near the last date chrono holds.
fn now() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        (0i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range")),
        Just(DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_expression_panics_and_accepted_ones_fire(input in expression(), tz in zone(), after in now()) {
        let Ok(parsed) = schedule::parse(&input) else { return Ok(()) };
        let tz = schedule::parse_timezone(&tz).expect("a known zone");
        match parsed.next_fire_times(tz, after, 5) {
            Ok(times) => {
                prop_assert!(!times.is_empty());
                prop_assert!(times.len() <= 5);
                prop_assert!(times[0].with_timezone(&Utc) > after, "{input}: {} not after {after}", times[0]);
                prop_assert!(times.windows(2).all(|w| w[0] < w[1]), "{input}: {times:?}");
            }
            Err(e) => {
                // Only a date fixed in the past (at(), a cron year) or the end of time stops firing.
                let recent = after.timestamp() < 4_102_444_800;
                let fixed = matches!(parsed.syntax, Syntax::At) || parsed.expression.starts_with("cron(");
                prop_assert!(fixed || !recent, "{input} accepted but {e}");
            }
        }
    }

    #[test]
    fn every_accepted_rate_fires_from_today(n in number(), unit in prop::sample::select(vec!["minute", "minutes", "hours", "days"])) {
        let input = format!("rate({n} {unit})");
        if let Ok(parsed) = schedule::parse(&input) {
            let today: DateTime<Utc> = "2026-12-05T00:00:00Z".parse().expect("a date");
            let times = parsed.next_fire_times(chrono_tz::UTC, today, 5);
            prop_assert!(times.is_ok_and(|t| t.len() == 5), "{input}");
        }
    }
}

#[test]
fn the_overflowing_rates_of_the_report_are_refused() {
    for input in ["rate(99999999 days)", "rate(18446744073709551615 minutes)", "rate(36501 days)"] {
        let err = schedule::parse(input).expect_err(input).to_string();
        assert!(err.contains("longer than 36500 days"), "{input}: {err}");
    }
    let longest = schedule::parse("rate(36500 days)").expect("100 years is accepted");
    let today: DateTime<Utc> = "2026-12-05T00:00:00Z".parse().expect("a date");
    assert_eq!(longest.next_fire_times(chrono_tz::UTC, today, 5).expect("fires").len(), 5);
}
