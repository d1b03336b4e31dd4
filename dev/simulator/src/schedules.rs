//! Schedules as the API makes them: the real route handlers (`POST /jobs/schedules`,
//! `DELETE /jobs/schedules/{name}`) over an API state of the simulated world, whose Scheduler is
//! the in-memory one behind the run's faults (a request may fail, or take effect and lose its
//! answer: the client tries again, and takes a 409 or a 404 on a later try as its own earlier
//! try's doing). Their firings reach the queues as EventBridge Scheduler delivers them: at
//! least once (1 firing in 8 twice, the copy up to a few seconds later).

use std::collections::BTreeSet;

use api_lambda::caller::Caller;
use api_lambda::routes::schedules::{ScheduleName, create_schedule, delete_schedule};
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jobs_sim::rng::Rng;
use jobs_sim::scheduler::Firing;
use serde_json::json;

use crate::faults::Faults;
use crate::violation::Violation;
use crate::world::World;

/// Tries of a client's schedule request.
const TRIES: u32 = 3;

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
    /// that (so firings overlap), with `overlap: forbid` or `allow`, each try over a fresh
    /// process view; how many tries failed. The schedule counts as made whatever the answers
    /// (a lost answer may have made it): its firings are checked, and it is deleted at the end.
    pub async fn create(&mut self, world: &World, faults: &Faults, name: &str, forbid: bool, rng: &mut Rng) -> u64 {
        let body = json!({
            "name": name,
            "cron": "rate(1 minute)",
            "job": "sleep",
            "payload": { "ms": 10_000 + rng.below(110_000) },
            "overlap": if forbid { "forbid" } else { "allow" },
        });
        self.names.push(name.to_owned());
        if forbid {
            self.forbid.insert(name.to_owned());
        }
        let mut failed = 0;
        for t in 0..TRIES {
            let view = world.view(faults, 0);
            let body = Ok(Bytes::from(body.to_string()));
            match create_schedule(State(world.api(&view)), Caller("sim".to_owned()), body).await {
                Ok(_) => break,
                Err(e) if t > 0 && e.status == StatusCode::CONFLICT => break,
                Err(_) => failed += 1,
            }
        }
        failed
    }

    /// Deletes every schedule the run made (the run is about to settle), trying again after a
    /// failure; a 404 is a schedule no try made, or one an earlier try deleted.
    pub async fn delete_all(&mut self, world: &World, faults: &Faults) -> Result<u64, Violation> {
        let mut failed = 0;
        for name in std::mem::take(&mut self.names) {
            let mut deleted = false;
            for _ in 0..TRIES * 10 {
                let path = Path(ScheduleName { name: name.clone() });
                match delete_schedule(State(world.api(&world.view(faults, 0))), path).await {
                    Ok(_) => deleted = true,
                    Err(e) if e.status == StatusCode::NOT_FOUND => deleted = true,
                    Err(_) => failed += 1,
                }
                if deleted {
                    break;
                }
            }
            if !deleted || world.scheduler.world().get(&name).is_ok() {
                return Err(Violation::ScheduleLeft(name));
            }
        }
        Ok(failed)
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
