//! The faults of a run, as seeded plans for the fault decorator (`jobs_aws::faults::Faulty`): every request of a process
//! is delayed a little (so processes interleave), and while faults are on some fail (throttled,
//! a conflict, a 5xx), some commit and lose their answer (half of those are sent again by the
//! SDK's own retry, whose answer the caller gets), and during an outage every request fails. Each process's plan draws from its own generator, seeded from the run's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_aws::ErrorKind;
use jobs_aws::faults::{Call, Fault, Plan};
use jobs_sim::rng::Rng;

/// How often each fault happens, while faults are on: one request in `n`.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub fail_in: u64,
    pub lose_in: u64,
    /// The longest delay of a request.
    pub max_delay_ms: u64,
}

/// The faults of a run, shared by every process's plan.
#[derive(Clone)]
pub struct Faults {
    rates: Option<Rates>,
    seeds: Arc<Mutex<Rng>>,
    on: Arc<AtomicBool>,
    outage: Arc<AtomicBool>,
    injected: Arc<Mutex<Injected>>,
}

/// Counts of what the plans did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    pub failed: u64,
    pub lost: u64,
}

impl Faults {
    pub fn new(seed: u64, rates: Rates) -> Faults {
        Faults {
            rates: Some(rates),
            seeds: Arc::new(Mutex::new(Rng::new(seed ^ 0xFA17))),
            on: Arc::new(AtomicBool::new(true)),
            outage: Arc::new(AtomicBool::new(false)),
            injected: Arc::default(),
        }
    }

    /// What the plans injected so far.
    pub fn injected(&self) -> Injected {
        *self.injected.lock().expect("counts")
    }

    /// No faults and no delays (the checks' reads).
    pub fn none() -> Faults {
        let faults = Faults::new(0, Rates { fail_in: 1, lose_in: 1, max_delay_ms: 0 });
        Faults { rates: None, ..faults }
    }

    /// From now on, requests only get delays: the run settles.
    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    /// Starts or ends an outage: every request fails with a 5xx.
    pub fn set_outage(&self, on: bool) {
        self.outage.store(on, Ordering::SeqCst);
    }

    /// A plan for one port of one process, recording each request in `ops`.
    pub fn plan(&self, ops: OpLog) -> Plan {
        let mut rng = Rng::new(self.seeds.lock().expect("seeds").next_u64());
        let (rates, on, outage, injected) = (self.rates, self.on.clone(), self.outage.clone(), self.injected.clone());
        Box::new(move |call, _n| {
            ops.push(call);
            let Some(rates) = rates else { return Fault::None };
            let delay = Fault::Delay(Duration::from_millis(rng.below(rates.max_delay_ms + 1)));
            if !on.load(Ordering::SeqCst) {
                return delay;
            }
            if outage.load(Ordering::SeqCst) {
                injected.lock().expect("counts").failed += 1;
                return Fault::Fail(ErrorKind::Service);
            }
            let roll = rng.below(rates.fail_in * rates.lose_in);
            if roll < rates.lose_in {
                injected.lock().expect("counts").failed += 1;
                return [
                    Fault::Fail(ErrorKind::Throttled),
                    Fault::Fail(ErrorKind::Conflict),
                    Fault::Fail(ErrorKind::Service),
                ][rng.below(3) as usize];
            }
            if roll < rates.lose_in + rates.fail_in {
                injected.lock().expect("counts").lost += 1;
                // Half the lost answers are the SDK's: it sends the request again by itself.
                return if rng.below(2) == 0 { Fault::LoseAnswer } else { Fault::Replay };
            }
            delay
        })
    }
}

/// The requests one process made, in order.
#[derive(Debug, Clone, Default)]
pub struct OpLog(Arc<Mutex<Vec<Call>>>);

impl OpLog {
    fn push(&self, call: Call) {
        self.0.lock().expect("op log").push(call);
    }

    /// Where a process stopped: its last request and how many it had made (`start` before any).
    pub fn point(&self) -> String {
        let ops = self.0.lock().expect("op log");
        match ops.last() {
            Some(call) => format!("{call}#{}", ops.len()),
            None => "start".to_owned(),
        }
    }
}
