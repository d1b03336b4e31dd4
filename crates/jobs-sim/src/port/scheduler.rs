//! The in-memory Scheduler behind the API's port (`jobs_aws::Scheduler`), on the world's clock;
//! the simulator takes its firings ([`SimScheduler::due`]) and delivers them.

use std::sync::{Arc, Mutex};

use jobs_aws::scheduler::{Answer, Scheduler as Port};
use jobs_aws::{ScheduleInfo, ScheduleRequest};
use tokio::time::Instant;

use crate::scheduler::{Firing, Scheduler};

/// The world's schedule group, shared by every process of the simulation.
#[derive(Clone)]
pub struct SimScheduler {
    world: Arc<Mutex<Scheduler>>,
    since: Instant,
}

impl SimScheduler {
    pub fn new(world: Scheduler) -> SimScheduler {
        SimScheduler { world: Arc::new(Mutex::new(world)), since: Instant::now() }
    }

    /// The world, its clock set to now.
    pub fn world(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        let mut w = self.world.lock().expect("no panic while the world is held");
        w.set_now(crate::clock::epoch() + self.since.elapsed());
        w
    }

    /// The firings due by now.
    pub fn due(&self) -> Vec<Firing> {
        self.world().due()
    }
}

impl Port for SimScheduler {
    fn create<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        let answer = self.world().create(req);
        Box::pin(async move { answer })
    }
    fn update<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        let answer = self.world().update(req);
        Box::pin(async move { answer })
    }
    fn get<'a>(&'a self, name: &'a str) -> Answer<'a, ScheduleInfo> {
        let answer = self.world().get(name);
        Box::pin(async move { answer })
    }
    fn list(&self) -> Answer<'_, Vec<ScheduleInfo>> {
        let answer = Ok(self.world().list());
        Box::pin(async move { answer })
    }
    fn delete<'a>(&'a self, name: &'a str) -> Answer<'a, ()> {
        let answer = self.world().delete(name);
        Box::pin(async move { answer })
    }
}
