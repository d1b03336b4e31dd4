//! Every lane's queues as [`JobQueue`]s: where the API sends a job (its kind's lane, its
//! priority), what the reconciler sweeps (every pool's dead-letter queue) and what the depth
//! figures add up. A lane is a pool, or a command kind (`jobs_core::catalog::lanes`). Names follow
//! `jobs_core::pools::Queues` from the default pool's queue URL.

use std::sync::Arc;

use aws_sdk_sqs::Client;
use jobs_core::pools::{DEFAULT_POOL, Pools, Priority, QueueError, QueueName, Queues};

use crate::error::BackendError;
use crate::queue::{Depth, JobQueue};
use crate::sqs::{SdkSqs, Sqs};

#[derive(Debug, Clone)]
pub struct PoolQueues {
    names: Queues,
    /// Each lane's queues, highest priority first; the default pool first.
    queues: Vec<(QueueName, JobQueue)>,
}

impl PoolQueues {
    /// The queues of every lane of `pools` (theirs, and their command kinds'), named after
    /// `default_url` (the default pool's normal queue).
    pub fn new(client: &Client, default_url: &str, pools: &Pools) -> Result<PoolQueues, QueueError> {
        PoolQueues::over(crate::faults::sqs(SdkSqs::new(client.clone())), default_url, pools)
    }

    /// The same queues over any implementation of the SQS port (the simulator's world).
    pub fn over(sqs: Arc<dyn Sqs>, default_url: &str, pools: &Pools) -> Result<PoolQueues, QueueError> {
        let names = Queues::from_default_url(default_url)?;
        let queues = jobs_core::catalog::lanes()
            .iter()
            .filter(|lane| pools.get(lane.pool).is_some())
            .flat_map(|lane| {
                Priority::ALL.map(|priority| QueueName {
                    lane: lane.name.to_owned(),
                    pool: lane.pool.to_owned(),
                    priority,
                })
            })
            .map(|q| {
                let queue = JobQueue::over(sqs.clone(), names.url(&q.lane, q.priority), Some(names.dlq_url(&q.pool)));
                (q, queue)
            })
            .collect();
        Ok(PoolQueues { names, queues })
    }

    pub fn names(&self) -> &Queues {
        &self.names
    }

    /// A lane's queue of one priority (a pool's lane is named after the pool); an unknown
    /// lane's are the default pool's.
    pub fn get(&self, lane: &str, priority: Priority) -> &JobQueue {
        let find = |lane: &str| self.queues.iter().find(|(q, _)| q.lane == lane && q.priority == priority);
        &find(lane).or_else(|| find(DEFAULT_POOL)).expect("the default pool's queues exist").1
    }

    /// A lane's queues, every priority (an unknown lane: none).
    pub fn lane<'a>(&'a self, lane: &'a str) -> impl Iterator<Item = &'a JobQueue> + 'a {
        self.queues.iter().filter(move |(q, _)| q.lane == lane).map(|(_, queue)| queue)
    }

    /// Where a job of `kind` goes: its kind's lane (a kind this build does not know: the
    /// default pool's, whose workers hand it back for a build that does).
    pub fn for_job(&self, kind: &str, priority: Priority) -> &JobQueue {
        self.get(jobs_core::catalog::lane_of(kind), priority)
    }

    /// Every queue with its lane, pool and priority.
    pub fn iter(&self) -> impl Iterator<Item = (&QueueName, &JobQueue)> {
        self.queues.iter().map(|(q, queue)| (q, queue))
    }

    /// One queue per pool whose dead-letter queue is that pool's (its own lane's normal queue;
    /// its command kinds' lanes share it).
    pub fn dead_letters(&self) -> impl Iterator<Item = (&str, &JobQueue)> {
        self.iter()
            .filter(|(q, _)| q.priority == Priority::Normal && q.lane == q.pool)
            .map(|(q, queue)| (q.pool.as_str(), queue))
    }

    /// Every queue's depth, read in parallel, in [`PoolQueues::iter`]'s order.
    pub async fn depths(&self) -> Vec<(QueueName, Result<Depth, BackendError>)> {
        let mut reads = tokio::task::JoinSet::new();
        for (i, (_, queue)) in self.queues.iter().enumerate() {
            let queue = queue.clone();
            reads.spawn(async move { (i, queue.depth().await) });
        }
        let mut depths: Vec<Option<Result<Depth, BackendError>>> = self.queues.iter().map(|_| None).collect();
        while let Some(joined) = reads.join_next().await {
            match joined {
                Ok((i, depth)) => depths[i] = Some(depth),
                Err(e) => tracing::warn!(error = %e, "a queue depth read did not finish"),
            }
        }
        self.queues
            .iter()
            .zip(depths)
            .map(|((q, _), d)| {
                (q.clone(), d.unwrap_or_else(|| Err(BackendError::other("the queue depth read did not finish"))))
            })
            .collect()
    }

    /// Every pool's dead-letter queue's depth added up (read in parallel).
    pub async fn total_dead_depth(&self) -> Result<Depth, BackendError> {
        let mut reads = tokio::task::JoinSet::new();
        for (_, queue) in self.dead_letters() {
            let queue = queue.clone();
            reads.spawn(async move { queue.dead_depth().await });
        }
        let mut total = Depth::default();
        while let Some(joined) = reads.join_next().await {
            let depth =
                joined.map_err(|e| BackendError::other(format!("a dead-letter depth read did not finish: {e}")))?;
            if let Some(d) = depth? {
                total = total + d;
            }
        }
        Ok(total)
    }

    /// All queues' depths added up; the first failed read fails it.
    pub async fn total_depth(&self) -> Result<Depth, BackendError> {
        let mut total = Depth::default();
        for (_, depth) in self.depths().await {
            total = total + depth?;
        }
        Ok(total)
    }
}
