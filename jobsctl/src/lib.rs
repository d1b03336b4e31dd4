//! jobsctl as a library: the API client, its authorization (SigV4, bearer), waiting for and
//! watching jobs, the schedule commands, the post-deploy check, the human forms of the answers, and the dashboard's proxy
//! (`jobsctl ui`). The binary
//! (`main.rs`) is the command line over it.

mod answer;
pub mod auth;
pub mod cli;
pub mod client;
pub mod proxy;
pub mod render;
pub mod schedule;
pub mod tenants;
pub mod wait;
pub mod watch;
