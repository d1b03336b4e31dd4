//! A local stand-in for KEDA's ScaledJob controller (and the Kubernetes Job controller under it).
//! It reads the ScaledJob manifest deployed to the cluster (`keda/scaledjob.yaml`), scales on the
//! SQS queue with KEDA's arithmetic (`crate::scaling`), and runs each Job's pod as a container
//! through the Docker Engine API or as a process. The CronJobs of `keda/` (the reconciler) run
//! beside it, from their manifests too.

pub mod cli;
pub mod controller;
pub mod cron;
pub mod cronjob;
pub mod executor;
pub mod job;
pub mod logs;
pub mod manifest;
pub mod metrics;
pub mod scaling;
pub mod server;
pub mod status;
