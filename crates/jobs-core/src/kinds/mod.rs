//! The closed registry of job kinds.
//!
//! Each kind is one file in this folder: its payload type (serde, unknown fields rejected), its
//! validation, and the Rust function the worker runs (compiled only with the `run` feature, so the
//! API never links job code). The [`registry!`] call at the bottom is the one list of kinds.
//!
//! **Adding a kind** = add `kinds/<name>.rs` implementing [`JobKind`] (its payload type, its
//! [`KindPolicy`], its function), and one line to the `registry!` call below. Parsing,
//! validation, the API's kind list and payload schemas, and the worker's dispatch all follow.

use serde_json::Value;

use crate::policy::KindPolicy;

mod aggregate;
mod context;
mod fail;
mod flaky;
mod hang;
mod kind;
mod noop;
mod ping;
mod sleep;

pub use aggregate::Aggregate;
#[cfg(feature = "run")]
pub use context::{Cancellation, Checkpoint, JobContext};
pub use context::{CheckpointTooLarge, JobFailure, JobOutput, MAX_CHECKPOINT_BYTES};
pub use fail::Fail;
pub use flaky::Flaky;
pub use hang::Hang;
pub use kind::{JobKind, SpecError};
pub use noop::Noop;
pub use ping::Ping;
pub use sleep::Sleep;

/// A Rust kind as the registry lists it.
#[derive(Debug, Clone, Copy)]
pub struct RustKind {
    pub name: &'static str,
    pub description: &'static str,
    pub policy: KindPolicy,
    example: fn() -> Value,
    #[cfg(feature = "schema")]
    schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
}

impl RustKind {
    /// A payload that passes the kind's checks.
    pub fn example(&self) -> Value {
        (self.example)()
    }

    /// The payload's JSON Schema.
    #[cfg(feature = "schema")]
    pub fn schema(&self) -> Value {
        serde_json::to_value((self.schema)()).expect("schemas serialize")
    }
}

fn parse_payload<K: JobKind>(payload: Value) -> Result<K, SpecError> {
    // An absent payload means "all defaults".
    let payload = if payload.is_null() { Value::Object(Default::default()) } else { crate::json::integral(payload) };
    let invalid = |reason: String| SpecError::InvalidPayload { kind: K::NAME.to_owned(), reason };
    // An object: serde would read a list as the fields in order (an empty one as all defaults).
    if !payload.is_object() {
        return Err(invalid(format!("the payload must be a JSON object, not {}", crate::json::type_name(&payload))));
    }
    let spec: K = crate::json::from_value(payload).map_err(|e| invalid(e.to_string()))?;
    spec.validate().map_err(invalid)?;
    Ok(spec)
}

macro_rules! registry {
    ($($variant:ident),+ $(,)?) => {
        /// A validated job of a Rust kind: the kind with its typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RustSpec {
            $($variant($variant),)+
        }

        /// Every Rust kind, in registry order.
        pub const RUST_KINDS: &[RustKind] = &[
            $(RustKind {
                name: $variant::NAME,
                description: $variant::DESCRIPTION,
                policy: $variant::POLICY,
                example: || serde_json::to_value($variant::example()).expect("payloads serialize"),
                #[cfg(feature = "schema")]
                schema: <$variant as utoipa::PartialSchema>::schema,
            },)+
        ];

        impl RustSpec {
            /// Types and validates `payload` for the Rust kind named `kind` (`None`: no such kind).
            pub(crate) fn parse(kind: &str, payload: Value) -> Option<Result<Self, SpecError>> {
                $(if kind == $variant::NAME {
                    return Some(parse_payload::<$variant>(payload).map(RustSpec::$variant));
                })+
                None
            }

            pub fn kind(&self) -> &'static str {
                match self { $(RustSpec::$variant(_) => $variant::NAME,)+ }
            }

            pub fn policy(&self) -> KindPolicy {
                match self { $(RustSpec::$variant(_) => $variant::POLICY,)+ }
            }

            pub fn payload(&self) -> Value {
                match self {
                    $(RustSpec::$variant(p) => serde_json::to_value(p).expect("payloads serialize"),)+
                }
            }

            /// Runs one attempt of this job.
            #[cfg(feature = "run")]
            pub async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobFailure> {
                match self { $(RustSpec::$variant(p) => p.run(ctx).await,)+ }
            }
        }
    };
}

// The one list of Rust kinds (command kinds are declared in the config).
registry![Noop, Sleep, Fail, Flaky, Aggregate, Hang, Ping];
