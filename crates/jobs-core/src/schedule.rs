//! Schedule expressions: Unix cron (and its macros) translated to EventBridge Scheduler, plus
//! native `cron(…)`, `rate(…)` and `at(…)` expressions, all validated here (emulators accept
//! anything) and with their next fire times computed by the `croner` library in a time zone.
//!
//! Translation rules (Unix → EventBridge `cron(min hour dom month dow year)`):
//! - minute, hour, day-of-month and month keep their meaning and become lists, ranges or `a/n` steps;
//! - day-of-week becomes names (`SUN`-`SAT`), which avoids the numbering trap: Unix counts
//!   0-7 with 0 and 7 = Sunday, EventBridge 1-7 = Sunday-Saturday;
//! - exactly one of day-of-month / day-of-week is `?`, and the year is `*`;
//! - Unix cron fires on a day when *either* a restricted day-of-month *or* a restricted
//!   day-of-week matches (and when one of the fields starts with `*`, when *both* match). A
//!   single EventBridge expression cannot say "either" or "both", so an expression that restricts
//!   both fields is rejected with an explanation (create two schedules instead).

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid schedule expression {input:?}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("unknown time zone {0:?}: use an IANA name such as \"Europe/Berlin\" or \"UTC\"")]
    TimeZone(String),
    #[error("schedule expression {0:?} never fires")]
    NeverFires(String),
}

/// Which syntax the user wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Unix,
    Macro,
    Cron,
    Rate,
    At,
}

#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// A croner pattern (5 fields, POSIX weekdays) plus the EventBridge year restriction.
    Cron {
        pattern: String,
        years: Option<BTreeSet<u32>>,
    },
    Rate(Duration),
    At(NaiveDateTime),
}

/// A validated schedule, ready for EventBridge Scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// What the user wrote (trimmed).
    pub input: String,
    pub syntax: Syntax,
    /// The EventBridge Scheduler expression, e.g. `cron(0 7 ? * MON *)`.
    pub expression: String,
    plan: Plan,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for values, the first standing for `names_from`.
    names: &'static [&'static str],
    names_from: u32,
}

const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

const MINUTE: Field = Field { name: "minute", min: 0, max: 59, names: &[], names_from: 0 };
const HOUR: Field = Field { name: "hour", min: 0, max: 23, names: &[], names_from: 0 };
const DOM: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[], names_from: 0 };
const MONTH: Field = Field { name: "month", min: 1, max: 12, names: &MONTHS, names_from: 1 };
/// Unix: 0-7, 0 and 7 = Sunday.
const UNIX_DOW: Field = Field { name: "day-of-week", min: 0, max: 7, names: &DAYS, names_from: 0 };
/// EventBridge: 1-7 = Sunday-Saturday.
const EB_DOW: Field = Field { name: "day-of-week", min: 1, max: 7, names: &DAYS, names_from: 1 };
const YEAR: Field = Field { name: "year", min: 1970, max: 2199, names: &[], names_from: 0 };

impl Field {
    fn full(&self) -> BTreeSet<u32> {
        (self.min..=self.max).collect()
    }

    fn value(&self, token: &str) -> Result<u32, String> {
        let upper = token.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.names_from + i as u32);
        }
        let v: u32 = token.parse().map_err(|_| format!("{:?} is not a valid {} value", token, self.name))?;
        if !(self.min..=self.max).contains(&v) {
            return Err(format!("{} {} is out of range {}-{}", self.name, v, self.min, self.max));
        }
        Ok(v)
    }

    /// Parses `*`, `a`, `a-b`, `*/n`, `a-b/n`, `a/n` and comma lists of them.
    fn parse(&self, text: &str, steps: bool) -> Result<BTreeSet<u32>, String> {
        let mut set = BTreeSet::new();
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    if !steps {
                        return Err(format!("steps (/) are not allowed in the {} field", self.name));
                    }
                    let step: u32 =
                        s.parse().map_err(|_| format!("invalid step {:?} in the {} field", s, self.name))?;
                    if step == 0 {
                        return Err(format!("step 0 in the {} field", self.name));
                    }
                    (r, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = match range {
                "" => return Err(format!("empty item in the {} field {:?}", self.name, text)),
                "*" => (self.min, self.max),
                _ => match range.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (self.value(a)?, self.value(b)?);
                        if a > b {
                            return Err(format!("range {range} in the {} field runs backwards", self.name));
                        }
                        (a, b)
                    }
                    None => {
                        let a = self.value(range)?;
                        (a, if step.is_some() { self.max } else { a })
                    }
                },
            };
            set.extend((lo..=hi).step_by(step.unwrap_or(1) as usize));
        }
        Ok(set)
    }

    /// The shortest EventBridge text for `set`: `*`, `a/n`, or runs and single values.
    fn compress(&self, set: &BTreeSet<u32>, steps: bool, named: bool) -> String {
        if *set == self.full() {
            return "*".into();
        }
        let v: Vec<u32> = set.iter().copied().collect();
        let show = |x: u32| {
            if named { self.names[(x - self.names_from) as usize].to_owned() } else { x.to_string() }
        };
        if steps && v.len() >= 3 {
            let d = v[1] - v[0];
            if d > 1 && v.windows(2).all(|w| w[1] - w[0] == d) && v[v.len() - 1] + d > self.max {
                return format!("{}/{}", v[0], d);
            }
        }
        let mut parts = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let mut j = i;
            while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
                j += 1;
            }
            match j - i {
                0 => parts.push(show(v[i])),
                1 => parts.extend([show(v[i]), show(v[j])]),
                _ => parts.push(format!("{}-{}", show(v[i]), show(v[j]))),
            }
            i = j + 1;
        }
        parts.join(",")
    }
}

fn list(set: &BTreeSet<u32>) -> String {
    set.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// A schedule's name: 1-64 of `[A-Za-z0-9._-]` (EventBridge Scheduler's rule, and part of its
/// firings' job ids).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Parses a schedule expression in any accepted syntax.
pub fn parse(input: &str) -> Result<Schedule, ScheduleError> {
    let input = input.trim();
    let invalid = |reason: String| ScheduleError::Invalid { input: input.to_owned(), reason };
    let inner = |prefix: &str| input.strip_prefix(prefix).and_then(|s| s.strip_suffix(')')).map(str::trim);
    if let Some(body) = inner("cron(") {
        return eventbridge_cron(input, body).map_err(invalid);
    }
    if let Some(body) = inner("rate(") {
        return rate(input, body).map_err(invalid);
    }
    if let Some(body) = inner("at(") {
        return at(input, body).map_err(invalid);
    }
    if let Some(name) = input.strip_prefix('@') {
        let expanded = match name {
            "hourly" => "0 * * * *",
            "daily" | "midnight" => "0 0 * * *",
            "weekly" => "0 0 * * 0",
            "monthly" => "0 0 1 * *",
            "yearly" | "annually" => "0 0 1 1 *",
            _ => {
                return Err(invalid("unknown macro; use @hourly, @daily, @weekly, @monthly or @yearly".into()));
            }
        };
        return unix(input, expanded, Syntax::Macro).map_err(invalid);
    }
    match input.split_whitespace().count() {
        5 => unix(input, input, Syntax::Unix).map_err(invalid),
        6 => Err(invalid(
            "6 fields look like EventBridge syntax: write it as cron(minute hour day-of-month month day-of-week year)"
                .into(),
        )),
        n => Err(invalid(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), a macro such as @daily, or cron(…), rate(…), at(…); got {n} fields"
        ))),
    }
}

fn unix(input: &str, text: &str, syntax: Syntax) -> Result<Schedule, String> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let minutes = MINUTE.parse(f[0], true)?;
    let hours = HOUR.parse(f[1], true)?;
    let dom = DOM.parse(f[2], true)?;
    let months = MONTH.parse(f[3], true)?;
    let dow: BTreeSet<u32> = UNIX_DOW.parse(f[4], true)?.into_iter().map(|d| d % 7).collect();
    let (dom_full, dow_full) = (dom == DOM.full(), dow.len() == 7);
    // Vixie cron: if either field starts with '*', a day must match both; otherwise either.
    let both = f[2].starts_with('*') || f[4].starts_with('*');
    let (eb_dom, eb_dow) = match (dom_full, dow_full, both) {
        (true, true, _) | (true, _, false) | (_, true, false) => ("*".to_owned(), "?".to_owned()),
        (true, false, true) => ("?".to_owned(), dow_text(&dow)),
        (false, true, true) => (DOM.compress(&dom, true, false), "?".to_owned()),
        (false, false, _) => {
            let rule = if both { "on days matching both" } else { "on days matching either" };
            return Err(format!(
                "it restricts both day-of-month ({}) and day-of-week ({}), which Unix cron runs {rule}; \
                 EventBridge allows only one of the two: create two schedules, one per field",
                f[2], f[4]
            ));
        }
    };
    let expression = format!(
        "cron({} {} {} {} {} *)",
        MINUTE.compress(&minutes, true, false),
        HOUR.compress(&hours, true, false),
        eb_dom,
        MONTH.compress(&months, true, false),
        eb_dow
    );
    let pattern = format!(
        "{} {} {} {} {}",
        list(&minutes),
        list(&hours),
        if eb_dom == "*" || eb_dom == "?" { "*".to_owned() } else { list(&dom) },
        list(&months),
        if eb_dow == "?" { "*".to_owned() } else { list(&dow) }
    );
    Ok(Schedule { input: input.to_owned(), syntax, expression, plan: Plan::Cron { pattern, years: None } })
}

/// Unix day numbers (0 = Sunday) as EventBridge names.
fn dow_text(days: &BTreeSet<u32>) -> String {
    UNIX_DOW.compress(days, false, true)
}

fn eventbridge_cron(input: &str, body: &str) -> Result<Schedule, String> {
    let f: Vec<String> = body.split_whitespace().map(str::to_ascii_uppercase).collect();
    if f.len() != 6 {
        return Err(format!(
            "cron(…) needs 6 fields (minute hour day-of-month month day-of-week year), got {}",
            f.len()
        ));
    }
    let minutes = MINUTE.parse(&f[0], true)?;
    let hours = HOUR.parse(&f[1], true)?;
    let months = MONTH.parse(&f[3], true)?;
    let years = YEAR.parse(&f[5], true)?;
    if (f[2] == "?") == (f[4] == "?") {
        return Err("exactly one of day-of-month and day-of-week must be ?".into());
    }
    let dom = match f[2].as_str() {
        "?" => "*".to_owned(),
        "L" | "LW" => f[2].clone(),
        w if w.ends_with('W') => format!("{}W", DOM.value(&w[..w.len() - 1])?),
        other => list(&DOM.parse(other, true)?),
    };
    // croner uses POSIX weekdays (0 = Sunday); EventBridge 1 = Sunday.
    let posix = |d: u32| d - 1;
    let dow = match f[4].as_str() {
        "?" => "*".to_owned(),
        d if d.ends_with('L') => format!("{}L", posix(EB_DOW.value(&d[..d.len() - 1])?)),
        d if d.contains('#') => {
            let (day, nth) = d.split_once('#').expect("contains #");
            let nth: u32 = nth.parse().map_err(|_| format!("invalid week number in {d:?}"))?;
            if !(1..=5).contains(&nth) {
                return Err(format!("week number in {d:?} must be 1-5"));
            }
            format!("{}#{}", posix(EB_DOW.value(day)?), nth)
        }
        other => list(&EB_DOW.parse(other, false)?.into_iter().map(posix).collect()),
    };
    let pattern = format!("{} {} {} {} {}", list(&minutes), list(&hours), dom, list(&months), dow);
    let years = (years != YEAR.full()).then_some(years);
    Ok(Schedule {
        input: input.to_owned(),
        syntax: Syntax::Cron,
        expression: format!("cron({})", f.join(" ")),
        plan: Plan::Cron { pattern, years },
    })
}

/// The longest `rate()` period accepted: 100 years. A longer one would first fire after the
/// schedule, its job and this system are long gone.
const MAX_RATE: chrono::Duration = chrono::Duration::days(36_500);

fn rate(input: &str, body: &str) -> Result<Schedule, String> {
    let usage = "write rate(value unit), e.g. rate(5 minutes), rate(1 hour)";
    let mut parts = body.split_whitespace();
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(usage.into());
    };
    let value: u64 = value.parse().map_err(|_| format!("{value:?} is not a whole number; {usage}"))?;
    if value == 0 {
        return Err("the rate must be at least 1".into());
    }
    let (singular, secs) = match unit {
        "minute" | "minutes" => ("minute", 60),
        "hour" | "hours" => ("hour", 3600),
        "day" | "days" => ("day", 86_400),
        _ => {
            return Err(format!("unknown unit {unit:?}: use minute(s), hour(s) or day(s)"));
        }
    };
    let expected = if value == 1 { singular.to_owned() } else { format!("{singular}s") };
    if unit != expected {
        return Err(format!("EventBridge requires rate({value} {expected})"));
    }
    // The period must be a time span chrono can add to a date: anything longer never fires.
    let every = value
        .checked_mul(secs)
        .and_then(|s| i64::try_from(s).ok())
        .and_then(chrono::Duration::try_seconds)
        .filter(|d| *d <= MAX_RATE)
        .ok_or_else(|| format!("rate({value} {unit}) is longer than {} days", MAX_RATE.num_days()))?;
    Ok(Schedule {
        input: input.to_owned(),
        syntax: Syntax::Rate,
        expression: format!("rate({value} {unit})"),
        plan: Plan::Rate(every.to_std().expect("a checked positive rate")),
    })
}

fn at(input: &str, body: &str) -> Result<Schedule, String> {
    let when = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| format!("{body:?} is not a date-time: write at(yyyy-mm-ddThh:mm:ss)"))?;
    Ok(Schedule {
        input: input.to_owned(),
        syntax: Syntax::At,
        expression: format!("at({})", when.format("%Y-%m-%dT%H:%M:%S")),
        plan: Plan::At(when),
    })
}

/// Parses an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    Tz::from_str(name).map_err(|_| ScheduleError::TimeZone(name.to_owned()))
}

impl Schedule {
    /// The next `n` fire times after `after`, in `tz` (EventBridge evaluates the expression in the
    /// schedule's time zone). An expression that never fires again is an error.
    ///
    /// A `rate()` counts its periods from when the schedule was created, as a schedule about to be
    /// created does from `after`; [`Schedule::fire_times_since`] counts from a known start.
    pub fn next_fire_times(&self, tz: Tz, after: DateTime<Utc>, n: usize) -> Result<Vec<DateTime<Tz>>, ScheduleError> {
        self.fire_times_since(after, tz, after, n)
    }

    /// The next `n` fire times after `after` of a schedule that started at `start` (its creation,
    /// or its `StartDate`): a `rate()` fires at `start` + k periods (k ≥ 1), whatever the time of
    /// the question, so two answers agree. Times are whole seconds (EventBridge fires within a
    /// minute of each).
    pub fn fire_times_since(
        &self,
        start: DateTime<Utc>,
        tz: Tz,
        after: DateTime<Utc>,
        n: usize,
    ) -> Result<Vec<DateTime<Tz>>, ScheduleError> {
        let mut times = Vec::with_capacity(n);
        match &self.plan {
            Plan::Rate(every) => {
                let start = start.timestamp();
                let every = every.as_secs() as i64;
                // Periods that have passed by `after`: the next firing is the one after them.
                // Checked: times past the last date chrono can hold are not there.
                let passed = after.timestamp().saturating_sub(start).max(0) / every;
                for k in (passed + 1..).take(n) {
                    let Some(t) = k.checked_mul(every).and_then(|d| start.checked_add(d)) else { break };
                    let Some(t) = DateTime::from_timestamp(t, 0) else { break };
                    times.push(t.with_timezone(&tz));
                }
            }
            Plan::At(when) => {
                if let Some(t) = tz.from_local_datetime(when).earliest()
                    && t.with_timezone(&Utc) > after
                {
                    times.push(t);
                }
            }
            Plan::Cron { pattern, years } => {
                let cron = croner::Cron::from_str(pattern)
                    .map_err(|e| ScheduleError::Invalid { input: self.input.clone(), reason: e.to_string() })?;
                let mut cursor = after.with_timezone(&tz);
                while times.len() < n {
                    let Ok(next) = cron.find_next_occurrence(&cursor, false) else {
                        break;
                    };
                    match years {
                        Some(allowed) if !allowed.contains(&(next.year() as u32)) => {
                            let Some(&year) = allowed.range(next.year() as u32 + 1..).next() else {
                                break;
                            };
                            let Some(start) = tz.with_ymd_and_hms(year as i32, 1, 1, 0, 0, 0).earliest() else {
                                break;
                            };
                            cursor = start - chrono::Duration::seconds(1);
                        }
                        _ => {
                            times.push(next);
                            cursor = next;
                        }
                    }
                }
            }
        }
        if times.is_empty() {
            return Err(ScheduleError::NeverFires(self.input.clone()));
        }
        Ok(times)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_names_table() {
        let long = "n".repeat(64);
        let too_long = "n".repeat(65);
        let cases = [
            ("nightly", true),
            ("Report_v2.daily-1", true),
            (long.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("a b", false),
            ("a:b", false),
            ("a/b", false),
            ("é", false),
        ];
        for (name, valid) in cases {
            assert_eq!(valid_name(name), valid, "{name:?}");
        }
    }

    #[test]
    fn unix_translation_table() {
        let cases = [
            ("0 7 * * MON", "cron(0 7 ? * MON *)"),
            ("0 7 * * 1", "cron(0 7 ? * MON *)"),
            ("0 0 * * 0", "cron(0 0 ? * SUN *)"),
            ("0 0 * * 7", "cron(0 0 ? * SUN *)"),
            ("0 0 * * 0,7", "cron(0 0 ? * SUN *)"),
            ("30 9 * * 1-5", "cron(30 9 ? * MON-FRI *)"),
            ("30 9 * * mon-fri", "cron(30 9 ? * MON-FRI *)"),
            ("0 0 * * 5-7", "cron(0 0 ? * SUN,FRI,SAT *)"),
            ("0 0 * * 6,0", "cron(0 0 ? * SUN,SAT *)"),
            ("0 0 * * */2", "cron(0 0 ? * SUN,TUE,THU,SAT *)"),
            ("* * * * *", "cron(* * * * ? *)"),
            ("*/15 * * * *", "cron(0/15 * * * ? *)"),
            ("5-59/15 * * * *", "cron(5/15 * * * ? *)"),
            ("0 */6 * * *", "cron(0 0/6 * * ? *)"),
            ("0,30 8-18 * * *", "cron(0,30 8-18 * * ? *)"),
            ("0 8,9,10,12 * * *", "cron(0 8-10,12 * * ? *)"),
            ("15 3 1 * *", "cron(15 3 1 * ? *)"),
            ("0 0 1,15 * *", "cron(0 0 1,15 * ? *)"),
            ("0 0 1 jan,Jul *", "cron(0 0 1 1,7 ? *)"),
            ("0 0 1 */3 *", "cron(0 0 1 1/3 ? *)"),
            // Unix "either": one field unrestricted means every day.
            ("0 0 1-31 * MON", "cron(0 0 * * ? *)"),
            ("0 0 10 * 0-7", "cron(0 0 * * ? *)"),
            // '*'-led fields: days must match both, and one is unrestricted.
            ("0 0 */1 * MON", "cron(0 0 ? * MON *)"),
            ("0 0 */2 * *", "cron(0 0 1/2 * ? *)"),
        ];
        for (input, want) in cases {
            let s = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(s.expression, want, "{input}");
            assert_eq!(s.syntax, Syntax::Unix);
        }
    }

    #[test]
    fn macros() {
        let cases = [
            ("@hourly", "cron(0 * * * ? *)"),
            ("@daily", "cron(0 0 * * ? *)"),
            ("@midnight", "cron(0 0 * * ? *)"),
            ("@weekly", "cron(0 0 ? * SUN *)"),
            ("@monthly", "cron(0 0 1 * ? *)"),
            ("@yearly", "cron(0 0 1 1 ? *)"),
            ("@annually", "cron(0 0 1 1 ? *)"),
        ];
        for (input, want) in cases {
            let s = parse(input).unwrap();
            assert_eq!((s.expression.as_str(), s.syntax), (want, Syntax::Macro), "{input}");
        }
    }

    #[test]
    fn native_expressions() {
        let cases = [
            ("cron(0 10 ? * 6#3 *)", "cron(0 10 ? * 6#3 *)"),
            ("cron(0 18 ? * mon-fri *)", "cron(0 18 ? * MON-FRI *)"),
            ("cron(15 12 * * ? *)", "cron(15 12 * * ? *)"),
            ("cron(0 8 L * ? 2027)", "cron(0 8 L * ? 2027)"),
            ("cron(0/5 8-17 ? * 2-6 *)", "cron(0/5 8-17 ? * 2-6 *)"),
            ("rate(1 minute)", "rate(1 minute)"),
            ("rate(5 minutes)", "rate(5 minutes)"),
            ("rate(12 hours)", "rate(12 hours)"),
            ("rate(1 day)", "rate(1 day)"),
            ("at(2030-01-01T09:00:00)", "at(2030-01-01T09:00:00)"),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).expression, want);
        }
    }

    #[test]
    fn rejections_explain_themselves() {
        let cases = [
            ("0 0 1 * MON", "restricts both day-of-month (1) and day-of-week (MON)"),
            ("0 0 1 * MON", "either"),
            ("0 0 */2 * MON", "both"),
            ("60 * * * *", "minute 60 is out of range 0-59"),
            ("* 24 * * *", "hour 24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
            ("* * * 13 *", "month 13 is out of range 1-12"),
            ("* * * * 8", "day-of-week 8 is out of range 0-7"),
            ("* * * * FUN", "\"FUN\" is not a valid day-of-week value"),
            ("*/0 * * * *", "step 0"),
            ("5-1 * * * *", "runs backwards"),
            ("1,,2 * * * *", "empty item"),
            ("* * * *", "expected 5 fields"),
            ("0 7 ? * MON *", "look like EventBridge syntax"),
            ("", "expected 5 fields"),
            ("@reboot", "unknown macro"),
            ("cron(0 7 * * MON *)", "exactly one of day-of-month and day-of-week must be ?"),
            ("cron(0 7 ? * ? *)", "exactly one"),
            ("cron(0 7 ? * 0 *)", "day-of-week 0 is out of range 1-7"),
            ("cron(0 7 ? * */2 *)", "steps (/) are not allowed in the day-of-week field"),
            ("cron(0 7 ? * 6#6 *)", "must be 1-5"),
            ("cron(0 7 * * ? 1969)", "year 1969 is out of range"),
            ("cron(0 7 * * ?)", "needs 6 fields"),
            ("rate(0 minutes)", "at least 1"),
            ("rate(5 minute)", "requires rate(5 minutes)"),
            ("rate(1 minutes)", "requires rate(1 minute)"),
            ("rate(30 seconds)", "unknown unit"),
            ("rate(soon)", "write rate(value unit)"),
            ("at(2030-01-01 09:00)", "is not a date-time"),
        ];
        for (input, fragment) in cases {
            let err = parse(input).expect_err(input).to_string();
            assert!(err.contains(fragment), "{input}: {err}");
        }
    }

    fn times(expr: &str, tz: &str, after: &str, n: usize) -> Vec<String> {
        let after: DateTime<Utc> = after.parse().unwrap();
        parse(expr)
            .unwrap()
            .next_fire_times(parse_timezone(tz).unwrap(), after, n)
            .unwrap()
            .iter()
            .map(|t| t.to_rfc3339())
            .collect()
    }

    #[test]
    fn next_fire_times_in_time_zones() {
        // 2026-11-21 is a Saturday.
        assert_eq!(
            times("0 7 * * MON", "Europe/Berlin", "2026-11-21T10:00:00Z", 2),
            ["2026-11-23T07:00:00+01:00", "2026-11-30T07:00:00+01:00"]
        );
        assert_eq!(times("0 7 * * MON", "UTC", "2026-11-21T10:00:00Z", 1), ["2026-11-23T07:00:00+00:00"]);
        // Across the spring DST change in Berlin (2027-03-28).
        assert_eq!(
            times("0 12 * * *", "Europe/Berlin", "2027-03-27T00:00:00Z", 2),
            ["2027-03-27T12:00:00+01:00", "2027-03-28T12:00:00+02:00"]
        );
        assert_eq!(
            times("*/15 * * * *", "UTC", "2026-11-21T10:07:00Z", 2),
            ["2026-11-21T10:15:00+00:00", "2026-11-21T10:30:00+00:00"]
        );
        // Third Friday (EventBridge 6 = Friday).
        assert_eq!(times("cron(0 10 ? * 6#3 *)", "UTC", "2026-11-21T00:00:00Z", 1), ["2026-12-18T10:00:00+00:00"]);
        // Last Friday.
        assert_eq!(times("cron(0 10 ? * 6L *)", "UTC", "2026-11-21T00:00:00Z", 1), ["2026-11-27T10:00:00+00:00"]);
        assert_eq!(
            times("cron(0 0 L * ? *)", "UTC", "2026-11-21T00:00:00Z", 2),
            ["2026-11-30T00:00:00+00:00", "2026-12-31T00:00:00+00:00"]
        );
        // MON-FRI in EventBridge numbers is 2-6.
        assert_eq!(times("cron(0 9 ? * 2-6 *)", "UTC", "2026-11-21T00:00:00Z", 1), ["2026-11-23T09:00:00+00:00"]);
        // Year restriction.
        assert_eq!(
            times("cron(0 8 1 1 ? 2028,2030)", "UTC", "2026-11-21T00:00:00Z", 3),
            ["2028-01-01T08:00:00+00:00", "2030-01-01T08:00:00+00:00"]
        );
        assert_eq!(
            times("rate(5 minutes)", "UTC", "2026-11-21T00:00:00Z", 2),
            ["2026-11-21T00:05:00+00:00", "2026-11-21T00:10:00+00:00"]
        );
        assert_eq!(
            times("at(2030-01-01T09:00:00)", "Asia/Tokyo", "2026-11-21T00:00:00Z", 3),
            ["2030-01-01T09:00:00+09:00"]
        );
    }

    #[test]
    fn rate_times_count_from_the_start_not_from_the_question() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let since = |expr: &str, start: &str, after: &str| -> Vec<String> {
            let times = parse(expr).unwrap().fire_times_since(at(start), Tz::UTC, at(after), 2).unwrap();
            times.iter().map(|t| t.to_rfc3339()).collect()
        };
        // (expression, started, asked at, next two)
        let cases = [
            (
                "rate(1 minute)",
                "2026-12-05T10:00:12.345Z",
                "2026-12-05T10:00:30Z",
                ["2026-12-05T10:01:12+00:00", "2026-12-05T10:02:12+00:00"],
            ),
            // Asked again 20 s later: the same times, whole seconds.
            (
                "rate(1 minute)",
                "2026-12-05T10:00:12.345Z",
                "2026-12-05T10:00:50.999Z",
                ["2026-12-05T10:01:12+00:00", "2026-12-05T10:02:12+00:00"],
            ),
            // Exactly at a firing: the next one.
            (
                "rate(1 minute)",
                "2026-12-05T10:00:12Z",
                "2026-12-05T10:01:12Z",
                ["2026-12-05T10:02:12+00:00", "2026-12-05T10:03:12+00:00"],
            ),
            (
                "rate(5 minutes)",
                "2026-12-05T10:00:00Z",
                "2026-12-05T13:07:00Z",
                ["2026-12-05T13:10:00+00:00", "2026-12-05T13:15:00+00:00"],
            ),
            (
                "rate(1 day)",
                "2026-12-01T08:30:00Z",
                "2026-12-05T09:00:00Z",
                ["2026-12-06T08:30:00+00:00", "2026-12-07T08:30:00+00:00"],
            ),
            // A start still ahead (a StartDate): its first period.
            (
                "rate(1 hour)",
                "2026-12-06T00:00:00Z",
                "2026-12-05T09:00:00Z",
                ["2026-12-06T01:00:00+00:00", "2026-12-06T02:00:00+00:00"],
            ),
            // Other expressions do not depend on the start.
            (
                "*/15 * * * *",
                "2026-12-05T10:00:12Z",
                "2026-12-05T10:07:00Z",
                ["2026-12-05T10:15:00+00:00", "2026-12-05T10:30:00+00:00"],
            ),
        ];
        for (expr, start, after, want) in cases {
            assert_eq!(since(expr, start, after), want, "{expr} started {start}, asked {after}");
        }
    }

    #[test]
    fn never_firing_expressions_are_errors() {
        let after: DateTime<Utc> = "2026-11-21T00:00:00Z".parse().unwrap();
        for expr in ["0 0 31 2 *", "at(2020-01-01T00:00:00)", "cron(0 0 1 1 ? 2020)"] {
            let err = parse(expr).unwrap().next_fire_times(Tz::UTC, after, 3).unwrap_err();
            assert_eq!(err, ScheduleError::NeverFires(expr.into()));
        }
        assert!(parse_timezone("Mars/Olympus").unwrap_err().to_string().contains("unknown time zone"));
    }
}
