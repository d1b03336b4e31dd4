//! Names and attributes of the AWS resources, in one place. The CDK stack and the local stack's
//! provisioning both follow these values (a parity test compares them).

/// The table's partition key (string). Items: `JOB#<job id>`, [`STATS_KEY`], `TENANT#<tenant>`
/// and others (see `store::item`).
pub const TABLE_KEY: &str = "pk";
/// The key of the single item holding the counters.
pub const STATS_KEY: &str = "STATS";
/// The table's TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// Default visibility timeout of the job queue, and the worker's lease (seconds). The worker
/// renews both every third of this while a job runs.
pub const QUEUE_VISIBILITY_TIMEOUT_SECS: u64 = 60;
/// Receives before SQS moves a message to the dead-letter queue: a safety net well above the
/// 3 attempts, since duplicate deliveries and interrupted attempts are receives too.
pub const MAX_RECEIVE_COUNT: u32 = 10;
/// How long messages stay on the job queue and the dead-letter queue (14 days, the SQS maximum).
pub const MESSAGE_RETENTION_SECS: u64 = 14 * 24 * 60 * 60;

/// The sparse index of jobs that have not ended, by due time (see `jobs_core::reconcile`).
pub const DUE_INDEX: &str = "due";
/// Its partition key (string): one of [`DUE_SHARDS`] shards, so writes spread over partitions.
pub const DUE_SHARD_ATTRIBUTE: &str = "dueShard";
/// Its sort key (number, epoch milliseconds).
pub const DUE_AT_ATTRIBUTE: &str = "dueAt";
pub const DUE_SHARDS: u32 = 8;

/// The job list's indexes (keys only, newest first by [`LIST_SORT_ATTRIBUTE`]): one per filter of
/// `GET /jobs`, each partitioned by the attribute it filters on. `by-created` lists every job
/// (its key, [`LIST_ALL_ATTRIBUTE`], is the same on all of them).
pub const LIST_INDEXES: [(&str, &str); 6] = [
    ("by-created", LIST_ALL_ATTRIBUTE),
    ("by-status", "status"),
    ("by-kind", "kind"),
    ("by-schedule", "schedule"),
    ("by-submitter", "submittedBy"),
    ("by-tenant", "tenant"),
];
/// The list indexes' sort key (string, RFC 3339 with milliseconds: sorts by time).
pub const LIST_SORT_ATTRIBUTE: &str = "createdAt";
/// The partition key of `by-created`: `"JOB"` on every job item.
pub const LIST_ALL_ATTRIBUTE: &str = "listAll";

/// The sparse index of tenants' admission (`docs/tenants.md`, keys only): waiting jobs in the
/// order they are admitted (`WAIT#<tenant>`), the jobs holding a slot (`SLOT#<tenant>`), and the
/// tenant items (`TENANTS`, by name).
pub const TENANCY_INDEX: &str = "tenancy";
/// Its partition key (string).
pub const TENANCY_ATTRIBUTE: &str = "tenancy";
/// Its sort key (string).
pub const TENANCY_ORDER_ATTRIBUTE: &str = "tenancyOrder";
/// The attributes it carries besides the keys: a job's status (the sweep for slots to free reads
/// no job), a tenant's settings and usage (`GET /tenants` reads no tenant item).
pub const TENANCY_PROJECTED: [&str; 11] = [
    "status",
    "name",
    "maxRunning",
    "maxStartsPerMinute",
    "weight",
    "limitsVersion",
    "active",
    "startsMinute",
    "starts",
    "waitingAt",
    "updatedAt",
];
