//! What the API answers: the JSON shapes of jobs, pages, counters, kinds and schedules, each built
//! from what the adapters return, one file per resource. Nullable fields are declared so (`null`
//! when not known).

mod counters;
mod jobs;
mod kinds;
mod pools;
mod schedules;
mod tenants;

pub use counters::*;
pub use jobs::*;
pub use kinds::*;
pub use pools::*;
pub use schedules::*;
pub use tenants::*;
