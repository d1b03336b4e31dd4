//! jobsctl as a library: the API client, its authorization (SigV4, bearer), waiting for jobs and
//! the post-deploy check. The binary (`main.rs`) is the command line over it.

pub mod auth;
pub mod cli;
pub mod client;
pub mod wait;
