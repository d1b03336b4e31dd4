//! Schedules as the API makes them: the real route handlers (`POST /jobs/schedules`,
//! `DELETE /jobs/schedules/{name}`) over an API state of the simulated world, whose Scheduler is
//! the in-memory one. Their firings reach the queues as EventBridge Scheduler delivers them: at
//! least once (1 firing in 8 twice, the copy up to a few seconds later).

use std::collections::BTreeSet;

use api_lambda::caller::Caller;
use api_lambda::routes::schedules::{ScheduleName, create_schedule, delete_schedule};
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use axum::body::Bytes;
use axum::extract::{Path, State};
use jobs_sim::rng::Rng;
use jobs_sim::scheduler::Firing;
use serde_json::json;

use crate::world::{View, World};

/// The schedules a run made.
#[derive(Debug, Default)]
pub struct Made {
    pub names: Vec<String>,
    /// Those with `overlap: forbid`: at most one of their jobs may be open at any time.
    pub forbid: BTreeSet<String>,
    /// Firings delivered (a duplicate counts once more).
    pub delivered: u64,
    /// Firings delivered twice.
    pub twice: u64,
    /// Copies to deliver later: (when, in world ms; the firing).
    later: Vec<(u64, Firing)>,
}

impl Made {
    /// Creates schedule `name` of `sleep` jobs firing every minute, each sleeping up to twice
    /// that (so firings overlap), with `overlap: forbid` or `allow`; whether the API answered 200.
    pub async fn create(&mut self, world: &World, view: &View, name: &str, forbid: bool, rng: &mut Rng) -> bool {
        let body = json!({
            "name": name,
            "cron": "rate(1 minute)",
            "job": "sleep",
            "payload": { "ms": 10_000 + rng.below(110_000) },
            "overlap": if forbid { "forbid" } else { "allow" },
        });
        let answer =
            create_schedule(State(world.api(view)), Caller("sim".to_owned()), Ok(Bytes::from(body.to_string()))).await;
        if answer.is_err() {
            return false;
        }
        self.names.push(name.to_owned());
        if forbid {
            self.forbid.insert(name.to_owned());
        }
        true
    }

    /// Deletes every schedule the run made (the run is about to settle).
    pub async fn delete_all(&mut self, world: &World, view: &View) {
        for name in std::mem::take(&mut self.names) {
            let path = Path(ScheduleName { name: name.clone() });
            delete_schedule(State(world.api(view)), path).await.expect("a schedule the run made is deleted");
        }
    }

    /// Copies of firings still to deliver.
    pub fn pending(&self) -> usize {
        self.later.len()
    }

    /// Delivers the firings due by now to their queues; returns how many were delivered.
    pub fn deliver(&mut self, world: &World, rng: &mut Rng) -> u64 {
        let now = world.sqs.world().now();
        let mut due: Vec<Firing> = Vec::new();
        self.later.retain(|(at, f)| {
            let ready = *at <= now;
            if ready {
                due.push(f.clone());
            }
            !ready
        });
        for firing in world.scheduler.due() {
            if rng.below(8) == 0 {
                self.twice += 1;
                self.later.push((now + rng.below(5_000), firing.clone()));
            }
            due.push(firing);
        }
        let mut sqs = world.sqs.world();
        for firing in &due {
            // The target's queue: its ARN's last part is its name.
            let name = firing.target_arn.rsplit(':').next().unwrap_or_default();
            let input = SendMessageInput::builder()
                .queue_url(jobs_sim::sqs::Sqs::url_of(name))
                .message_body(&firing.input)
                .build()
                .expect("a complete request");
            sqs.send_message(input).expect("the Scheduler's target queue takes the firing");
        }
        self.delivered += due.len() as u64;
        due.len() as u64
    }
}
