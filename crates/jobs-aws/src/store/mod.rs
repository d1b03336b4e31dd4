//! The DynamoDB job store: one table, one item per job (`pk = JOB#<id>`) and sharded stats items
//! (`pk = STATS#<n>`, see [`counters`]). A [`Transition`] from `jobs_core::state` is applied as a
//! conditional write of the job item plus an `ADD` on one stats shard (and, for an outcome, on
//! its minute's throughput bucket, see [`buckets`]) in one `TransactWriteItems`, so the counters
//! move exactly when the job does.
//!
//! Every write carries a token, stored as `lastWrite`: a writer whose answer was lost (a timeout,
//! a dropped connection) retries with the same token (DynamoDB's `ClientRequestToken` makes a
//! repeated transaction a no-op for 10 minutes) and, when the retry's condition fails, reads the
//! item back: its own token there means its first try committed.

pub mod admission;
mod apply;
pub mod buckets;
pub mod counters;
mod due;
mod expr;
mod handle;
pub mod item;
mod lease;
pub mod list;
mod lock;
mod open;
mod submit;
pub mod tenants;

pub use admission::AdmitPass;
pub use counters::Stats;
pub use handle::{Conditional, DEFAULT_RETENTION, JobStore, WriteResult, Written};
pub use item::{ItemError, JobRecord};
pub use jobs_core::tenants::{Seat, SlotTake};
pub use list::{Cursor, CursorError, ListFilter, Page};
pub use open::{COUNT_CAP, Oldest, OpenCount};
pub use submit::{Idempotency, Submitted};
pub use tenants::{TenancyCounts, TenancyEntry, TenantItem, TenantPage};
