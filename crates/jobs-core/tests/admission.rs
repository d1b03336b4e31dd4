//! A model of tenants' admission (`docs/tenants.md`) under every interleaving a seeded scheduler
//! picks: submitters, workers, admitters and the reconciler act in steps, each step one atomic
//! write the store makes (a job and its tenant's item together); a read may be stale by the time
//! its write commits; any actor may die between two steps; the limits change mid-run. The rules
//! are the real ones: `Seat::decide` (`admit`), and `SlotTake::holds`/`applied`, the condition
//! the store writes and the item it leaves. After every step: the tenant's `active` equals its
//! jobs that hold a slot, and a slot was only ever taken under the limits in force when it was.
//! At the end, with faults off, every job ends and no slot is held.

mod common;

use chrono::{DateTime, Utc};
use common::Rng;
use jobs_core::Tenant;
use jobs_core::tenants::limits::{Seat, Settings, SlotTake, TenantState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Waiting {
        order: u64,
    },
    /// Admitted: queued or running, holding a slot (or not, for a tenant that had no limit).
    Admitted {
        slot: bool,
    },
    Ended {
        slot: bool,
    },
}

/// One actor's next step.
#[derive(Debug, Clone)]
enum Pc {
    /// A submitter read the tenant (`read`) and decided; its write comes next.
    Submit { seat: Seat, tries: u32 },
    /// A worker ended job `j`; its release comes next, then its admission pass.
    Release { job: usize },
    /// An admitter read the tenant and the waiting list; it admits `queue` in order.
    Admit { read: TenantState, settings: Settings, queue: Vec<usize> },
}

struct World {
    tenant: Tenant,
    item: TenantState,
    settings: Settings,
    defaults: Settings,
    jobs: Vec<Job>,
    next_order: u64,
    minute: i64,
    actors: Vec<Pc>,
    rng: Rng,
    /// Slots taken.
    taken: u64,
    /// Slots taken in each minute (the admitter's), as they happened.
    starts: std::collections::HashMap<i64, u32>,
}

impl World {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.minute * 60, 0).unwrap()
    }

    fn limits(&self) -> jobs_core::tenants::Limits {
        self.settings.limits(&self.defaults)
    }

    fn waiting(&self) -> Vec<usize> {
        let mut w: Vec<(u64, usize)> = self
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(i, j)| match j {
                Job::Waiting { order } => Some((*order, i)),
                _ => None,
            })
            .collect();
        w.sort();
        w.into_iter().map(|(_, i)| i).collect()
    }

    fn holders(&self) -> u32 {
        self.jobs.iter().filter(|j| matches!(j, Job::Admitted { slot: true } | Job::Ended { slot: true })).count()
            as u32
    }

    /// Commits a slot take if the item still allows it (the store's conditional write).
    fn take(&mut self, take: &SlotTake) -> bool {
        if !take.holds(&self.item) {
            return false;
        }
        let limits = self.limits();
        self.item = take.applied(&self.item);
        self.taken += 1;
        // The limit in force at commit holds: the version matched, so the settings are the read ones.
        assert_eq!(limits, take.limits, "a take committed under other limits than it read");
        if let Some(max) = limits.max_running {
            assert!(self.item.usage.active <= max, "active {} over maxRunning {max}", self.item.usage.active);
        }
        // Every start of the minute counted, the concurrent ones included: never over the rate in
        // force when it was taken.
        let started = self.starts.entry(self.item.usage.minute).or_default();
        *started += 1;
        assert_eq!(*started, self.item.usage.starts, "the item counts every start of its minute");
        if let Some(rate) = limits.max_starts_per_minute {
            assert!(*started <= rate, "{started} starts in a minute, over {rate}");
        }
        true
    }

    /// An admitter's read: the tenant and its waiting jobs, in order.
    fn admit_pc(&self) -> Pc {
        Pc::Admit { read: self.item, settings: self.settings, queue: self.waiting() }
    }

    /// One step of actor `a` (false: it is done).
    fn step(&mut self, a: usize) -> bool {
        match self.actors[a].clone() {
            Pc::Submit { seat, tries } => {
                let order = self.next_order;
                self.next_order += 1;
                match seat {
                    Seat::Free => self.jobs.push(Job::Admitted { slot: false }),
                    Seat::Wait { .. } => {
                        self.jobs.push(Job::Waiting { order });
                        // The API then admits in turn (a slot may have freed since its read).
                        self.actors[a] = self.admit_pc();
                        return true;
                    }
                    Seat::Slot(take) => {
                        if self.take(&take) {
                            self.jobs.push(Job::Admitted { slot: true });
                        } else {
                            // Decide again on a fresh read; after three, wait.
                            self.next_order -= 1;
                            let behind = !self.waiting().is_empty();
                            let seat = if tries >= 2 {
                                Seat::Wait {
                                    tenant: self.tenant.clone(),
                                    reason: jobs_core::tenants::WaitReason::Behind,
                                }
                            } else {
                                Seat::decide(&self.tenant, &self.item, &self.limits(), behind, self.now())
                            };
                            self.actors[a] = Pc::Submit { seat, tries: tries + 1 };
                            return true;
                        }
                    }
                }
                false
            }
            Pc::Release { job } => {
                if let Job::Ended { slot: true } = self.jobs[job] {
                    self.jobs[job] = Job::Ended { slot: false };
                    self.item.usage.active -= 1;
                }
                self.actors[a] = self.admit_pc();
                true
            }
            Pc::Admit { read, settings, mut queue } => {
                let Some(&job) = queue.first() else { return false };
                // Stale reads: the decision is taken on what the admitter read.
                let limits = settings.limits(&self.defaults);
                match Seat::decide(&self.tenant, &read, &limits, false, self.now()) {
                    Seat::Wait { .. } => return false,
                    Seat::Free => {
                        // The tenant had no limit as read: the job goes without a slot (the
                        // store's write is conditional on the job alone).
                        if let Job::Waiting { .. } = self.jobs[job] {
                            self.jobs[job] = Job::Admitted { slot: false };
                        }
                        queue.remove(0);
                        self.actors[a] = Pc::Admit { read, settings, queue };
                    }
                    Seat::Slot(take) => {
                        let waiting = matches!(self.jobs[job], Job::Waiting { .. });
                        if waiting && self.take(&take) {
                            self.jobs[job] = Job::Admitted { slot: true };
                            queue.remove(0);
                            let read = self.item;
                            self.actors[a] = Pc::Admit { read, settings, queue };
                        } else if !waiting {
                            queue.remove(0);
                            self.actors[a] = Pc::Admit { read, settings, queue };
                        } else {
                            // The item changed: read again.
                            self.actors[a] = self.admit_pc();
                        }
                    }
                }
                true
            }
        }
    }

    /// The reconciler's pass: every ended job still holding a slot gives it back, then an
    /// admission pass runs to its end.
    fn reconcile(&mut self) {
        for j in 0..self.jobs.len() {
            if let Job::Ended { slot: true } = self.jobs[j] {
                self.jobs[j] = Job::Ended { slot: false };
                self.item.usage.active -= 1;
            }
        }
        self.actors.push(self.admit_pc());
        let me = self.actors.len() - 1;
        let mut steps = 0;
        while self.step(me) {
            steps += 1;
            assert!(steps < 10_000);
        }
        self.actors.remove(me);
    }

    fn check(&self) {
        assert_eq!(self.item.usage.active, self.holders(), "active equals the slot holders");
    }
}

/// One run; returns (jobs, slots taken).
fn simulate(seed: u64) -> (usize, u64) {
    let tenant = Tenant::parse("a").unwrap();
    let mut w = World {
        tenant,
        item: TenantState::default(),
        settings: Settings { max_running: Some(2), max_starts_per_minute: None, weight: None },
        defaults: Settings::default(),
        jobs: Vec::new(),
        next_order: 0,
        minute: 1000,
        actors: Vec::new(),
        rng: Rng(seed | 1),
        taken: 0,
        starts: Default::default(),
    };
    w.item.version = 1;
    let changes: [Settings; 5] = [
        Settings { max_running: Some(5), ..Settings::default() },
        Settings { max_running: Some(0), ..Settings::default() },
        Settings { max_running: Some(1), max_starts_per_minute: Some(3), weight: None },
        Settings { max_running: None, max_starts_per_minute: Some(4), weight: None },
        Settings { max_running: Some(3), ..Settings::default() },
    ];
    for _ in 0..400 {
        match w.rng.below(12) {
            // A submitter reads the tenant and decides (it writes at its next step).
            0..=2 => {
                let behind = !w.waiting().is_empty();
                let seat = Seat::decide(&w.tenant.clone(), &w.item, &w.limits(), behind, w.now());
                w.actors.push(Pc::Submit { seat, tries: 0 });
            }
            // A worker ends an admitted job (its outcome), then releases and admits.
            3..=5 => {
                let admitted: Vec<usize> =
                    (0..w.jobs.len()).filter(|j| matches!(w.jobs[*j], Job::Admitted { .. })).collect();
                if !admitted.is_empty() {
                    let j = admitted[w.rng.below(admitted.len() as u64) as usize];
                    let Job::Admitted { slot } = w.jobs[j] else { unreachable!() };
                    w.jobs[j] = Job::Ended { slot };
                    w.actors.push(Pc::Release { job: j });
                }
            }
            // A cancel of a waiting job ends it (it held no slot).
            6 => {
                if let Some(&j) = w.waiting().last() {
                    w.jobs[j] = Job::Ended { slot: false };
                }
            }
            // The limits change (the version with them).
            7 => {
                w.settings = changes[w.rng.below(changes.len() as u64) as usize];
                w.item.version += 1;
            }
            // An actor dies between two of its steps.
            8 => {
                if !w.actors.is_empty() {
                    let a = w.rng.below(w.actors.len() as u64) as usize;
                    w.actors.remove(a);
                }
            }
            // The minute turns; the reconciler passes.
            9 => w.minute += 1,
            10 => w.reconcile(),
            // Some actor takes its next step.
            _ => {
                if !w.actors.is_empty() {
                    let a = w.rng.below(w.actors.len() as u64) as usize;
                    if !w.step(a) {
                        w.actors.remove(a);
                    }
                }
            }
        }
        w.check();
    }
    // Faults off, limits that admit: the actors finish, workers end every admitted job, the
    // reconciler passes, until nothing is open.
    w.settings = Settings { max_running: Some(2), ..Settings::default() };
    w.item.version += 1;
    for _ in 0..10_000 {
        while let Some(a) = (!w.actors.is_empty()).then_some(0) {
            if !w.step(a) {
                w.actors.remove(a);
            }
            w.check();
        }
        let open: Vec<usize> = (0..w.jobs.len()).filter(|j| matches!(w.jobs[*j], Job::Admitted { .. })).collect();
        for j in open {
            let Job::Admitted { slot } = w.jobs[j] else { unreachable!() };
            w.jobs[j] = Job::Ended { slot };
            w.actors.push(Pc::Release { job: j });
        }
        w.minute += 1;
        w.reconcile();
        w.check();
        if w.jobs.iter().all(|j| matches!(j, Job::Ended { slot: false })) && w.actors.is_empty() {
            assert_eq!(w.item.usage.active, 0, "no slot held once every job ended");
            return (w.jobs.len(), w.taken);
        }
    }
    panic!("seed {seed}: jobs never all ended: {:?}", w.jobs)
}

#[test]
fn thousands_of_interleavings_keep_the_slots_exact_and_end_every_job() {
    let seeds: u64 = std::env::var("ADMISSION_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let (mut jobs, mut taken) = (0, 0);
    for seed in 0..seeds {
        let (j, t) = simulate(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) + 1);
        jobs += j;
        taken += t;
    }
    // The runs did something: many jobs, many of them through slots.
    assert!(jobs > seeds as usize * 50 && taken > seeds * 20, "jobs {jobs}, slots taken {taken}");
    eprintln!("admission model: {seeds} runs, {jobs} jobs, {taken} slots taken");
}
