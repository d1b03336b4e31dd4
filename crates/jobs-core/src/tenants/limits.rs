//! A tenant's limits and the admission rule (`docs/tenants.md`).
//!
//! A tenant with a limit has its jobs *admitted*: a job takes one of the tenant's slots when it is
//! accepted if the tenant is under its limits, and otherwise waits (WAITING) without a message,
//! a pod or a KEDA slot, until a slot frees. The store keeps, on the tenant's item, the slots in
//! use (`active`) and the starts of the current minute, and moves them in the same transaction as
//! the job, so `running ≤ active ≤ maxRunning` holds at every step. This module is the rule
//! alone: given the limits and the usage read, admit or wait (and why).

use serde::{Deserialize, Serialize};

/// The largest `maxRunning` (and `maxStartsPerMinute`) accepted: far above any pool's capacity.
pub const MAX_LIMIT: u32 = 100_000;
/// The largest weight.
pub const MAX_WEIGHT: u32 = 100;

/// A tenant's limits as they apply: its own settings over the config's defaults. `None`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// The most jobs of the tenant holding a slot at once (QUEUED with a slot, RUNNING, or between
    /// attempts). `0` holds every new job (a paused tenant).
    pub max_running: Option<u32>,
    /// The most jobs of the tenant admitted in one minute (UTC, by the admitter's clock).
    pub max_starts_per_minute: Option<u32>,
    /// The tenant's share when the config's default `maxRunning` applies: its window is the default
    /// times its weight. An explicit `maxRunning` is taken as it is.
    pub weight: u32,
}

impl Limits {
    /// Jobs of a tenant with no limit go straight to their queue, taking no slot.
    pub fn limited(&self) -> bool {
        self.max_running.is_some() || self.max_starts_per_minute.is_some()
    }
}

/// A tenant's own settings (`PUT /tenants/{tenant}`); a field that is `None` follows the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_running: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_starts_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// Why a setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSetting {
    #[error("{field} must be 0..={MAX_LIMIT} (got {got})")]
    Limit { field: &'static str, got: u64 },
    #[error("weight must be 1..={MAX_WEIGHT} (got {0})")]
    Weight(u64),
}

impl Settings {
    /// Checks the ranges: limits `0..=MAX_LIMIT` (0 pauses the tenant), weight `1..=MAX_WEIGHT`.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        for (field, v) in [("maxRunning", self.max_running), ("maxStartsPerMinute", self.max_starts_per_minute)] {
            if let Some(v) = v.filter(|v| *v > MAX_LIMIT) {
                return Err(InvalidSetting::Limit { field, got: v.into() });
            }
        }
        match self.weight {
            Some(w) if !(1..=MAX_WEIGHT).contains(&w) => Err(InvalidSetting::Weight(w.into())),
            _ => Ok(()),
        }
    }

    /// `self` with the fields `patch` names replaced (`PUT` changes only what it names).
    pub fn merged(self, patch: Patch) -> Settings {
        let pick = |old: Option<u32>, new: Option<Option<u32>>| new.unwrap_or(old);
        Settings {
            max_running: pick(self.max_running, patch.max_running),
            max_starts_per_minute: pick(self.max_starts_per_minute, patch.max_starts_per_minute),
            weight: pick(self.weight, patch.weight),
        }
    }

    /// The limits that apply: these settings over `defaults`. The default `maxRunning` is scaled by
    /// the weight (the tenant's share); an explicit one is not.
    pub fn limits(&self, defaults: &Settings) -> Limits {
        let weight = self.weight.or(defaults.weight).unwrap_or(1).max(1);
        let max_running =
            self.max_running.or_else(|| defaults.max_running.map(|d| d.saturating_mul(weight).min(MAX_LIMIT)));
        Limits {
            max_running,
            max_starts_per_minute: self.max_starts_per_minute.or(defaults.max_starts_per_minute),
            weight,
        }
    }
}

/// A change of settings: a field absent keeps its value, `null` returns it to the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<u32>, minimum = 0, maximum = 100_000))]
    pub max_running: Option<Option<u32>>,
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<u32>, minimum = 0, maximum = 100_000))]
    pub max_starts_per_minute: Option<Option<u32>>,
    #[serde(default, with = "double_option")]
    #[cfg_attr(feature = "schema", schema(value_type = Option<u32>, minimum = 1, maximum = 100))]
    pub weight: Option<Option<u32>>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
        Option::<u32>::deserialize(d).map(Some)
    }
}

/// What a tenant uses now, as read from its item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Slots held.
    pub active: u32,
    /// The minute (epoch minutes) `starts` counts, and the admissions in it.
    pub minute: i64,
    pub starts: u32,
}

/// Why a job waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The tenant holds `limit` slots.
    Running { limit: u32 },
    /// The tenant started `limit` jobs this minute.
    Starts { limit: u32 },
    /// Older (or higher-priority) jobs of the tenant wait: they go first.
    Behind,
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitReason::Running { limit: 0 } => f.write_str("the tenant is paused (maxRunning 0)"),
            WaitReason::Running { limit } => write!(f, "the tenant runs {limit} jobs, its maxRunning"),
            WaitReason::Starts { limit } => {
                write!(f, "the tenant started {limit} jobs this minute, its maxStartsPerMinute")
            }
            WaitReason::Behind => f.write_str("older jobs of the tenant wait to be admitted first"),
        }
    }
}

/// The admission decision for one more job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// No limit applies: the job takes no slot.
    Unlimited,
    /// Take a slot: the usage after it, written only if the tenant's item is still as read.
    Admit(Usage),
    Wait(WaitReason),
}

/// Admits one more job at `minute` (epoch minutes) or says why it waits.
pub fn admit(limits: &Limits, usage: &Usage, minute: i64) -> Admission {
    if !limits.limited() {
        return Admission::Unlimited;
    }
    if let Some(limit) = limits.max_running.filter(|l| usage.active >= *l) {
        return Admission::Wait(WaitReason::Running { limit });
    }
    // A minute that has passed counts nothing; a minute from an admitter whose clock runs ahead
    // keeps counting until ours catches up (never resets it backwards).
    let starts = if usage.minute >= minute { usage.starts } else { 0 };
    if let Some(limit) = limits.max_starts_per_minute.filter(|l| starts >= *l) {
        return Admission::Wait(WaitReason::Starts { limit });
    }
    Admission::Admit(Usage { active: usage.active + 1, minute: usage.minute.max(minute), starts: starts + 1 })
}

/// A tenant's item as an admission reads it, and as the store's conditions see it at commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantState {
    /// Bumped by every change of the settings (0: never set).
    pub version: u64,
    pub usage: Usage,
}

/// How a new job is recorded, decided from its tenant's item as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Seat {
    /// No limit applies: QUEUED, no slot.
    Free,
    /// QUEUED holding a slot, if the tenant's item still allows it when the write commits.
    Slot(SlotTake),
    /// WAITING, and why.
    Wait { tenant: crate::Tenant, reason: WaitReason },
}

/// Taking one of a tenant's slots: what its item must still say when the write commits (the
/// store's condition: [`SlotTake::holds`]) and what it says after ([`SlotTake::applied`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SlotTake {
    pub tenant: crate::Tenant,
    pub limits: Limits,
    /// The settings' version as read: limits changed since fail the take.
    pub version: u64,
    pub read: Usage,
    pub after: Usage,
}

impl Seat {
    /// The seat of one more job of `tenant`, whose item read `state`, under `limits`, at `now`.
    /// `behind`: jobs of the tenant already wait (they go first).
    pub fn decide(
        tenant: &crate::Tenant,
        state: &TenantState,
        limits: &Limits,
        behind: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Seat {
        let tenant = tenant.clone();
        match admit(limits, &state.usage, minute_of(now)) {
            Admission::Unlimited => Seat::Free,
            Admission::Admit(_) if behind => Seat::Wait { tenant, reason: WaitReason::Behind },
            Admission::Admit(after) => {
                Seat::Slot(SlotTake { tenant, limits: *limits, version: state.version, read: state.usage, after })
            }
            Admission::Wait(reason) => Seat::Wait { tenant, reason },
        }
    }
}

impl SlotTake {
    /// The take starts a new minute's count (the item counts an older minute, or none).
    pub fn new_minute(&self) -> bool {
        self.after.minute != self.read.minute
    }

    /// Whether the tenant's item, as it is at commit, allows this take: the same settings as read,
    /// a free slot (`active < maxRunning`, whatever others took since), and this minute's starts
    /// under the rate (counted on the item: others' starts since the read included). The
    /// condition the store writes (an in-memory store evaluates it directly).
    pub fn holds(&self, now: &TenantState) -> bool {
        let minute_ok = if self.new_minute() {
            // Nobody counted this minute yet: the first start of it.
            now.usage.minute < self.after.minute
        } else {
            now.usage.minute == self.read.minute
                && self.limits.max_starts_per_minute.is_none_or(|rate| now.usage.starts < rate)
        };
        now.version == self.version && self.limits.max_running.is_none_or(|max| now.usage.active < max) && minute_ok
    }

    /// The tenant's item after the take commits on `now`: one more slot, one more start this
    /// minute (both counted relative to the item, so takes that commit one after the other never
    /// lose one).
    pub fn applied(&self, now: &TenantState) -> TenantState {
        let (minute, starts) =
            if self.new_minute() { (self.after.minute, 1) } else { (now.usage.minute, now.usage.starts + 1) };
        TenantState { version: now.version, usage: Usage { active: now.usage.active + 1, minute, starts } }
    }
}

/// Epoch minutes of `at`.
pub fn minute_of(at: chrono::DateTime<chrono::Utc>) -> i64 {
    at.timestamp().div_euclid(60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_running: Option<u32>, per_minute: Option<u32>) -> Limits {
        Limits { max_running, max_starts_per_minute: per_minute, weight: 1 }
    }

    #[test]
    fn admit_table() {
        let u = |active, minute, starts| Usage { active, minute, starts };
        use Admission::*;
        // (limits, usage, minute now, want)
        let cases = [
            (limits(None, None), u(7, 0, 0), 10, Unlimited),
            (limits(Some(5), None), u(0, 0, 0), 10, Admit(u(1, 10, 1))),
            (limits(Some(5), None), u(4, 10, 9), 10, Admit(u(5, 10, 10))),
            (limits(Some(5), None), u(5, 10, 9), 10, Wait(WaitReason::Running { limit: 5 })),
            // Lowered below the slots held: nobody new until enough end.
            (limits(Some(2), None), u(5, 10, 9), 10, Wait(WaitReason::Running { limit: 2 })),
            (limits(Some(0), None), u(0, 0, 0), 10, Wait(WaitReason::Running { limit: 0 })),
            (limits(None, Some(3)), u(9, 10, 2), 10, Admit(u(10, 10, 3))),
            (limits(None, Some(3)), u(9, 10, 3), 10, Wait(WaitReason::Starts { limit: 3 })),
            // A new minute starts counting again.
            (limits(None, Some(3)), u(9, 9, 3), 10, Admit(u(10, 10, 1))),
            // An admitter whose clock is behind the last one's: the later minute keeps counting.
            (limits(None, Some(3)), u(0, 11, 3), 10, Wait(WaitReason::Starts { limit: 3 })),
            (limits(None, Some(3)), u(0, 11, 1), 10, Admit(u(1, 11, 2))),
            (limits(Some(1), Some(3)), u(1, 10, 0), 10, Wait(WaitReason::Running { limit: 1 })),
        ];
        for (l, usage, minute, want) in cases {
            assert_eq!(admit(&l, &usage, minute), want, "{l:?} {usage:?} at {minute}");
        }
    }

    #[test]
    fn a_take_holds_only_on_the_item_it_allows() {
        let at = chrono::DateTime::from_timestamp(600, 0).unwrap(); // minute 10
        let tenant = crate::Tenant::parse("a").unwrap();
        let read = TenantState { version: 2, usage: Usage { active: 1, minute: 10, starts: 1 } };
        let Seat::Slot(take) = Seat::decide(&tenant, &read, &limits(Some(2), Some(3)), false, at) else {
            panic!("under its limits")
        };
        let with = |version, active, starts| TenantState { version, usage: Usage { active, minute: 10, starts } };
        // (the item at commit, holds)
        let cases = [
            (with(2, 1, 1), true),
            (with(3, 1, 1), false), // the limits changed
            (with(2, 2, 1), false), // the last slot went to another
            (with(2, 0, 2), true),  // a slot freed and another start happened: still under both
            (with(2, 1, 3), false), // the minute's last start went to another
        ];
        for (now, want) in cases {
            assert_eq!(take.holds(&now), want, "{now:?}");
        }
        assert_eq!(take.applied(&with(2, 0, 2)), with(2, 1, 3), "counted on the item, not on the read");
        // A new minute: only the first to count it writes it; a later one counts on top.
        let old = TenantState { version: 2, usage: Usage { active: 0, minute: 9, starts: 3 } };
        let Seat::Slot(first) = Seat::decide(&tenant, &old, &limits(None, Some(3)), false, at) else { panic!() };
        assert!(first.new_minute() && first.holds(&old));
        assert_eq!(first.applied(&old).usage, Usage { active: 1, minute: 10, starts: 1 });
        assert!(!first.holds(&with(2, 1, 1)), "another counted minute 10 first: read again");
        // Without a rate limit, starts are counted and never refuse.
        let Seat::Slot(take) = Seat::decide(&tenant, &read, &limits(Some(2), None), false, at) else { panic!() };
        assert!(take.holds(&with(2, 0, 500)));
        // Behind older waiting jobs: wait, even with a slot free.
        assert_eq!(
            Seat::decide(&tenant, &read, &limits(Some(2), None), true, at),
            Seat::Wait { tenant: tenant.clone(), reason: WaitReason::Behind }
        );
        assert_eq!(Seat::decide(&tenant, &read, &limits(None, None), true, at), Seat::Free);
    }

    #[test]
    fn settings_table() {
        let s = |r, m, w| Settings { max_running: r, max_starts_per_minute: m, weight: w };
        let none = s(None, None, None);
        // (own settings, defaults, want limits)
        let cases = [
            (none, none, limits(None, None)),
            (s(Some(5), None, None), none, limits(Some(5), None)),
            // The default window scales with the weight; an explicit one does not.
            (s(None, None, Some(3)), s(Some(4), None, None), Limits { weight: 3, ..limits(Some(12), None) }),
            (s(Some(5), None, Some(3)), s(Some(4), None, None), Limits { weight: 3, ..limits(Some(5), None) }),
            (none, s(Some(4), Some(60), Some(2)), Limits { weight: 2, ..limits(Some(8), Some(60)) }),
            (s(Some(0), None, None), s(Some(4), None, None), limits(Some(0), None)),
            (
                s(None, None, Some(100)),
                s(Some(MAX_LIMIT), None, None),
                Limits { weight: 100, ..limits(Some(MAX_LIMIT), None) },
            ),
        ];
        for (own, defaults, want) in cases {
            assert_eq!(own.limits(&defaults), want, "{own:?} over {defaults:?}");
        }
        assert_eq!(s(Some(MAX_LIMIT), Some(0), Some(1)).check(), Ok(()));
        assert!(s(Some(MAX_LIMIT + 1), None, None).check().unwrap_err().to_string().contains("maxRunning"));
        assert!(s(None, Some(MAX_LIMIT + 1), None).check().unwrap_err().to_string().contains("maxStartsPerMinute"));
        assert_eq!(s(None, None, Some(0)).check(), Err(InvalidSetting::Weight(0)));
        assert_eq!(s(None, None, Some(101)).check(), Err(InvalidSetting::Weight(101)));
    }

    #[test]
    fn a_patch_changes_what_it_names() {
        let parse = |text: &str| serde_json::from_str::<Patch>(text);
        let old = Settings { max_running: Some(5), max_starts_per_minute: Some(60), weight: Some(2) };
        let cases = [
            ("{}", old),
            (r#"{"maxRunning": 20}"#, Settings { max_running: Some(20), ..old }),
            (r#"{"maxRunning": null}"#, Settings { max_running: None, ..old }),
            (
                r#"{"maxStartsPerMinute": null, "weight": 3}"#,
                Settings { max_starts_per_minute: None, weight: Some(3), ..old },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(old.merged(parse(text).unwrap()), want, "{text}");
        }
        assert!(parse("{}").unwrap().is_empty());
        for bad in [r#"{"maxrunning": 1}"#, r#"{"maxRunning": -1}"#, r#"{"maxRunning": "5"}"#, r#"{"weight": 1.5}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
