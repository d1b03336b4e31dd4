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

/// Each request is carried out when its answer is awaited (not when it is made): a request the
/// fault decorator fails never reaches the schedule group, and one it delays reaches it late.
impl Port for SimScheduler {
    fn create<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        Box::pin(async move { self.world().create(req) })
    }
    fn update<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        Box::pin(async move { self.world().update(req) })
    }
    fn get<'a>(&'a self, name: &'a str) -> Answer<'a, ScheduleInfo> {
        Box::pin(async move { self.world().get(name) })
    }
    fn list(&self) -> Answer<'_, Vec<ScheduleInfo>> {
        Box::pin(async move { Ok(self.world().list()) })
    }
    fn delete<'a>(&'a self, name: &'a str) -> Answer<'a, ()> {
        Box::pin(async move { self.world().delete(name) })
    }
}

#[cfg(test)]
mod tests {
    use jobs_aws::ErrorKind;
    use jobs_aws::faults::{Fault, Faulty};
    use jobs_aws::scheduler::SchedulerError;

    use super::*;

    fn request(name: &str) -> ScheduleRequest {
        ScheduleRequest {
            name: name.into(),
            expression: "rate(1 minute)".into(),
            timezone: "UTC".into(),
            input: "{}".into(),
            description: String::new(),
            enabled: true,
            target_arn: "arn:aws:sqs:eu-west-1:000000000000:jobs".into(),
        }
    }

    #[tokio::test]
    async fn behind_the_decorator_a_failed_request_never_arrives_and_a_lost_answer_took_effect() {
        let world = SimScheduler::new(Scheduler::new());
        let mut faults = vec![Fault::Fail(ErrorKind::Throttled), Fault::LoseAnswer, Fault::Replay].into_iter();
        let faulty = Faulty::new(world.clone(), Box::new(move |_, _| faults.next().unwrap_or(Fault::None)));
        let failed = faulty.create(&request("a")).await;
        assert!(matches!(failed, Err(SchedulerError::Backend(e)) if e.kind() == ErrorKind::Throttled));
        assert!(world.world().get("a").is_err(), "a failed request never reached the group");
        let lost = faulty.create(&request("a")).await;
        assert!(matches!(lost, Err(SchedulerError::Backend(e)) if e.kind() == ErrorKind::Ambiguous));
        assert!(world.world().get("a").is_ok(), "a lost answer: the schedule was made");
        // The SDK sends a replayed create with the same client token: it answers as the first try.
        assert!(faulty.create(&request("b")).await.is_ok());
        assert_eq!(world.world().list().len(), 2);
        assert!(matches!(faulty.create(&request("b")).await, Err(SchedulerError::Conflict(_))), "a new request");
    }
}
