//! What every binary of the system shares that is not AWS: the stop signal, logging, the
//! process exit codes, and who may call a server listening on this machine.

pub mod exit;
pub mod local_door;
pub mod shutdown;
pub mod telemetry;

pub use shutdown::Shutdown;
