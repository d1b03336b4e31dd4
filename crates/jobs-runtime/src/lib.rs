//! What every binary of the system shares that is not AWS: the stop signal, logging and the
//! process exit codes.

pub mod exit;
pub mod shutdown;
pub mod telemetry;

pub use shutdown::Shutdown;
