//! The in-memory world of the deterministic simulator (`docs/testing.md`): AWS's semantics as the
//! code relies on them, strictly, with no network and no clock of its own. This step holds
//! DynamoDB ([`dynamo`]), behind the store's port with a fault decorator ([`port`]); each
//! semantic has a unit test, and `tests/against_ministack.rs` runs the same calls on ministack
//! and here and compares the answers.

pub mod dynamo;
pub mod port;
pub mod rng;
