//! Process exit codes shared by the binaries (each binary's `--help` says what its own mean).

/// Invalid configuration: a flag, a variable, or no region.
pub const CONFIG: u8 = 2;
/// An AWS backend failed; nothing was lost (the work is retried).
pub const BACKEND: u8 = 3;
/// Stopped by SIGTERM or SIGINT (128 + 15, as a shell reports a SIGTERM).
pub const INTERRUPTED: u8 = 143;
