//! Tenants: whose job a job is, for sharing and limits (`docs/tenants.md`).
//!
//! A tenant is a label, 1 to 64 of `[A-Za-z0-9._-]`. A request may name it (`"tenant"`); without
//! one, the tenant follows from the submitter ([`Tenant::of_submitter`]), so every caller is a
//! tenant of its own without configuring anything. It is not an authorization boundary: a caller
//! that may submit jobs may submit them for any tenant (a SaaS backend submits for its customers).
//!
//! The tenant is fixed when the job is accepted and travels with it: on the job item (and the
//! `by-tenant` list index), in its queue message, and in a schedule's template, from which each
//! firing's job takes it.

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Deserializer, Serialize};

pub mod limits;

pub use limits::{Admission, Limits, Seat, Settings, SlotTake, TenantState, Usage, WaitReason};

/// The longest tenant name.
pub const MAX_LEN: usize = 64;

/// The tenant of a job no rule names one for: a firing of a schedule created before tenants
/// existed (its template carries none).
pub const DEFAULT: &str = "default";

/// A valid tenant name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Tenant(String);

/// Why a text is not a tenant name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant is 1-{MAX_LEN} characters of A-Z a-z 0-9 . _ - (got {0:?})")]
pub struct InvalidTenant(pub String);

impl Tenant {
    pub fn parse(text: &str) -> Result<Tenant, InvalidTenant> {
        if (1..=MAX_LEN).contains(&text.len()) && text.bytes().all(allowed) {
            Ok(Tenant(text.to_owned()))
        } else {
            Err(InvalidTenant(text.chars().take(MAX_LEN + 1).collect()))
        }
    }

    /// The tenant of jobs whose request names none: the submitter's own name, as far as it has
    /// one (see `crate::submitter` for the vocabulary).
    /// - an IAM user `arn:…:user/path/alice`: `alice`;
    /// - an assumed role `arn:…:assumed-role/deployer/session`: the role, `deployer` (sessions
    ///   change per call; the role is who the caller is);
    /// - an account root `arn:…:root`, the account id;
    /// - a local token `local:<name>`: `<name>`; `local`, `anonymous`: themselves;
    /// - a schedule's firing `schedule:<name>` (a template from before tenants): [`DEFAULT`].
    ///
    /// Characters outside the set become `-` and the name is cut to [`MAX_LEN`].
    pub fn of_submitter(submitter: &str) -> Tenant {
        let name = if let Some(arn) = submitter.strip_prefix("arn:") {
            // arn:partition:service:region:account:resource
            let mut parts = arn.splitn(5, ':');
            let account = parts.nth(3).unwrap_or_default();
            let resource = parts.next().unwrap_or_default();
            let mut path = resource.split('/');
            match path.next() {
                Some("assumed-role") => path.next().unwrap_or(account),
                Some("root") | None | Some("") => account,
                Some(_) => resource.rsplit('/').next().unwrap_or(account),
            }
        } else if let Some(name) = submitter.strip_prefix("local:") {
            name
        } else if submitter.starts_with("schedule:") {
            DEFAULT
        } else {
            submitter
        };
        let clean: String =
            name.bytes().take(MAX_LEN).map(|b| if allowed(b) { char::from(b) } else { '-' }).collect::<String>();
        Tenant::parse(&clean).unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The metric label of every tenant the config does not name: one series for all of them.
/// (Parentheses are not in a tenant name, so no tenant is mistaken for it.)
pub const OTHER: &str = "(other)";
/// The most tenants the config may name for metrics: the bound on each per-tenant metric's series
/// (these and [`OTHER`]).
pub const MAX_METRIC_TENANTS: usize = 100;

/// The `tenants` section of `infra-cdk8s/config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsConfig {
    /// A note for the reader of the config file.
    #[serde(rename = "//", default)]
    pub note: Option<String>,
    /// The tenants whose metrics are their own (a CloudWatch dimension value, a Prometheus label
    /// value); every other tenant's count under [`OTHER`].
    #[serde(default)]
    pub metrics: Vec<Tenant>,
    /// The limits of a tenant that has no settings of its own (`limits`): none unless set.
    #[serde(default)]
    pub defaults: Settings,
}

/// Why a `tenants` section is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantsConfigError {
    #[error("config: tenants: {0}")]
    Json(String),
    #[error("config: tenants.metrics names {0} tenants; at most {MAX_METRIC_TENANTS}")]
    TooMany(usize),
    #[error("config: tenants.metrics names {0:?} twice")]
    Twice(String),
    #[error("config: tenants.defaults: {0}")]
    Defaults(#[from] limits::InvalidSetting),
}

impl TenantsConfig {
    /// Reads the `tenants` section of a config file's text (absent: none named).
    pub fn from_config(text: &str) -> Result<TenantsConfig, TenantsConfigError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            tenants: TenantsConfig,
        }
        let file: File =
            crate::json::from_slice(text.as_bytes()).map_err(|e| TenantsConfigError::Json(e.to_string()))?;
        let config = file.tenants;
        if config.metrics.len() > MAX_METRIC_TENANTS {
            return Err(TenantsConfigError::TooMany(config.metrics.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = config.metrics.iter().find(|t| !seen.insert(t.as_str())) {
            return Err(TenantsConfigError::Twice(twice.to_string()));
        }
        config.defaults.check()?;
        Ok(config)
    }

    /// The label `tenant`'s metrics carry: its name if the config names it, else [`OTHER`].
    pub fn metric_label<'a>(&self, tenant: &'a Tenant) -> &'a str {
        if self.metrics.contains(tenant) { tenant.as_str() } else { OTHER }
    }
}

/// The `tenants` section of this build's config (`infra-cdk8s/config.json`), checked by a test.
pub fn config() -> &'static TenantsConfig {
    static CONFIG: LazyLock<TenantsConfig> = LazyLock::new(|| {
        TenantsConfig::from_config(crate::pools::CONFIG)
            .expect("infra-cdk8s/config.json declares a valid tenants section (tested)")
    });
    &CONFIG
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// [`DEFAULT`].
impl Default for Tenant {
    fn default() -> Self {
        Tenant(DEFAULT.to_owned())
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Tenant {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Tenant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Tenant::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table() {
        let longest = "a".repeat(MAX_LEN);
        let cases: &[(&str, bool)] = &[
            ("acme", true),
            ("Acme-Corp_2.eu", true),
            (&longest, true),
            ("", false),
            ("a b", false),
            ("a/b", false),
            ("a:b", false),
            ("é", false),
            ("a\n", false),
        ];
        for (text, ok) in cases {
            assert_eq!(Tenant::parse(text).is_ok(), *ok, "{text:?}");
        }
        assert!(Tenant::parse(&"a".repeat(MAX_LEN + 1)).is_err());
        let err = Tenant::parse("a b").unwrap_err().to_string();
        assert!(err.contains("1-64 characters") && err.contains("\"a b\""), "{err}");
        // Deserializing checks the same rule.
        assert_eq!(serde_json::from_str::<Tenant>("\"acme\"").unwrap().as_str(), "acme");
        assert!(serde_json::from_str::<Tenant>("\"a b\"").is_err());
    }

    #[test]
    fn the_config_names_the_tenants_with_metrics_of_their_own() {
        let many: Vec<String> = (0..=MAX_METRIC_TENANTS).map(|i| format!("\"t{i}\"")).collect();
        let many = format!(r#"{{"tenants": {{"metrics": [{}]}}}}"#, many.join(","));
        // (config text, Ok(named) or a fragment of the error)
        let cases: Vec<(&str, Result<Vec<&str>, &str>)> = vec![
            ("{}", Ok(vec![])),
            (r#"{"tenants": {}}"#, Ok(vec![])),
            (r#"{"pools": {}, "tenants": {"metrics": ["acme", "globex"]}}"#, Ok(vec!["acme", "globex"])),
            (r#"{"tenants": {"metrics": ["a b"]}}"#, Err("1-64 characters")),
            (r#"{"tenants": {"metrics": ["acme", "acme"]}}"#, Err("names \"acme\" twice")),
            (r#"{"tenants": {"metric": []}}"#, Err("unknown field")),
            (r#"{"tenants": {"defaults": {"maxRunning": 20, "weight": 1}}}"#, Ok(vec![])),
            (r#"{"tenants": {"defaults": {"weight": 0}}}"#, Err("tenants.defaults: weight must be 1..=100")),
            (r#"{"tenants": {"defaults": {"maxRuning": 1}}}"#, Err("unknown field")),
            (&many, Err("101 tenants; at most 100")),
        ];
        for (text, want) in cases {
            match (TenantsConfig::from_config(text), want) {
                (Ok(c), Ok(names)) => {
                    assert_eq!(c.metrics.iter().map(Tenant::as_str).collect::<Vec<_>>(), names, "{text}")
                }
                (Err(e), Err(fragment)) => assert!(e.to_string().contains(fragment), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
        let c = TenantsConfig::from_config(r#"{"tenants": {"metrics": ["acme"]}}"#).unwrap();
        let (acme, other) = (Tenant::parse("acme").unwrap(), Tenant::parse("other").unwrap());
        assert_eq!((c.metric_label(&acme), c.metric_label(&other)), ("acme", OTHER));
        // This build's config is valid.
        let _ = config();
    }

    #[test]
    fn of_submitter_table() {
        let long_role = format!("arn:aws:sts::123456789012:assumed-role/{}/s", "r".repeat(80));
        let cases: &[(&str, &str)] = &[
            ("arn:aws:iam::123456789012:user/alice", "alice"),
            ("arn:aws:iam::123456789012:user/team/ops/bob", "bob"),
            ("arn:aws:sts::123456789012:assumed-role/deployer/session-1", "deployer"),
            ("arn:aws:sts::123456789012:assumed-role/deployer/other-session", "deployer"),
            ("arn:aws:iam::123456789012:root", "123456789012"),
            ("arn:aws-cn:iam::123456789012:user/a+b=c,d@e", "a-b-c-d-e"),
            (&long_role, &"r".repeat(MAX_LEN)),
            ("arn:broken", DEFAULT),
            ("local", "local"),
            ("local:ci", "ci"),
            ("anonymous", "anonymous"),
            ("schedule:nightly", DEFAULT),
            ("AROAEXAMPLE:session", "AROAEXAMPLE-session"),
            ("", DEFAULT),
        ];
        for (submitter, want) in cases {
            assert_eq!(Tenant::of_submitter(submitter).as_str(), *want, "{submitter:?}");
        }
    }
}
