//! The in-memory SQS behind the queues' port (`jobs_aws::sqs::Sqs`): the real `JobQueue` and
//! `PoolQueues` run over it unchanged. A receive long-polls as SQS does: it answers at once when a
//! message is visible, otherwise when one is sent or becomes visible, or when its wait is over.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::operation::change_message_visibility::{ChangeMessageVisibilityInput, ChangeMessageVisibilityOutput};
use aws_sdk_sqs::operation::create_queue::{CreateQueueInput, CreateQueueOutput};
use aws_sdk_sqs::operation::delete_message::{DeleteMessageInput, DeleteMessageOutput};
use aws_sdk_sqs::operation::get_queue_attributes::{GetQueueAttributesInput, GetQueueAttributesOutput};
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};
use jobs_aws::error::kind_of_code;
use jobs_aws::sqs::{Answer, Sqs as Port};
use jobs_aws::{BackendError, ErrorKind};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::sqs::{Sqs, SqsError};

/// The world's SQS, shared by every process of the simulation.
#[derive(Clone)]
pub struct SimSqs {
    world: Arc<Mutex<Sqs>>,
    since: Instant,
    /// Wakes long polls when a message is sent.
    sent: Arc<Notify>,
}

impl std::fmt::Debug for SimSqs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimSqs")
    }
}

impl SimSqs {
    pub fn new(world: Sqs) -> SimSqs {
        SimSqs { world: Arc::new(Mutex::new(world)), since: Instant::now(), sent: Arc::new(Notify::new()) }
    }

    /// The world, its clock set to now: to read it whole, or to duplicate a message.
    pub fn world(&self) -> std::sync::MutexGuard<'_, Sqs> {
        let mut w = self.world.lock().expect("no panic while the world is held");
        w.set_now(self.since.elapsed().as_millis() as u64);
        w
    }

    /// The instant of the world's time `ms`.
    fn at(&self, ms: u64) -> Instant {
        self.since + Duration::from_millis(ms)
    }
}

/// The failure the SDK adapter would have made of the service's answer (classified by its code,
/// as the adapter classifies it).
fn failure(op: &str, url: &str, e: SqsError) -> BackendError {
    let kind = kind_of_code(e.code()).unwrap_or(ErrorKind::Service);
    let context = match e {
        SqsError::NoQueue(_) => format!("SQS queue {url} does not exist ({op})"),
        _ => format!("SQS {op} on {url} failed"),
    };
    BackendError::of_kind(kind, context, e.to_string())
}

/// The request is carried out when the answer is awaited (not when it is made): a request the
/// fault decorator fails never reaches the queue, and one it delays reaches it late.
macro_rules! answer {
    ($self:ident, $op:literal, $call:ident, $input:ident) => {{
        let this = $self.clone();
        Box::pin(async move {
            let url = $input.queue_url.clone().unwrap_or_default();
            this.world().$call($input).map_err(|e| failure($op, &url, e))
        })
    }};
}

impl Port for SimSqs {
    fn create_queue(&self, input: CreateQueueInput) -> Answer<'_, CreateQueueOutput> {
        let this = self.clone();
        Box::pin(async move {
            let name = input.queue_name.clone().unwrap_or_default();
            this.world().create_queue(input).map_err(|e| failure("CreateQueue", &name, e))
        })
    }

    fn send_message(&self, input: SendMessageInput) -> Answer<'_, SendMessageOutput> {
        let this = self.clone();
        Box::pin(async move {
            let url = input.queue_url.clone().unwrap_or_default();
            let result = this.world().send_message(input).map_err(|e| failure("SendMessage", &url, e));
            this.sent.notify_waiters();
            result
        })
    }

    fn receive_message(&self, input: ReceiveMessageInput) -> Answer<'_, ReceiveMessageOutput> {
        let this = self.clone();
        Box::pin(async move {
            let url = input.queue_url.clone().unwrap_or_default();
            let wait = Duration::from_secs(input.wait_time_seconds.unwrap_or(0).clamp(0, 20) as u64);
            let deadline = Instant::now() + wait;
            loop {
                let sent = this.sent.notified();
                tokio::pin!(sent);
                sent.as_mut().enable();
                let (result, next) = {
                    let mut world = this.world();
                    let result = world.receive_message(input.clone());
                    (result, world.next_visible(&url))
                };
                let out = result.map_err(|e| failure("ReceiveMessage", &url, e))?;
                if out.messages.as_ref().is_some_and(|m| !m.is_empty()) || Instant::now() >= deadline {
                    return Ok(out);
                }
                let until = next.map_or(deadline, |ms| this.at(ms).min(deadline));
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = &mut sent => {}
                }
            }
        })
    }

    fn delete_message(&self, input: DeleteMessageInput) -> Answer<'_, DeleteMessageOutput> {
        answer!(self, "DeleteMessage", delete_message, input)
    }

    fn change_message_visibility(
        &self,
        input: ChangeMessageVisibilityInput,
    ) -> Answer<'_, ChangeMessageVisibilityOutput> {
        answer!(self, "ChangeMessageVisibility", change_message_visibility, input)
    }

    fn get_queue_attributes(&self, input: GetQueueAttributesInput) -> Answer<'_, GetQueueAttributesOutput> {
        answer!(self, "GetQueueAttributes", get_queue_attributes, input)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use aws_sdk_sqs::operation::create_queue::CreateQueueInput;
    use jobs_aws::sqs::Sqs as _;
    use jobs_aws::{CopyMeta, JobQueue};
    use tokio::time::Instant;

    use super::SimSqs;
    use crate::sqs::Sqs;

    async fn queue() -> (SimSqs, JobQueue) {
        let sim = SimSqs::new(Sqs::new());
        let url = sim.create_queue(CreateQueueInput::builder().queue_name("q").build().unwrap()).await.unwrap();
        let queue = JobQueue::over(Arc::new(sim.clone()), url.queue_url.unwrap(), None);
        (sim, queue)
    }

    #[tokio::test(start_paused = true)]
    async fn behind_the_decorator_a_failed_delete_leaves_the_message_and_a_delayed_one_arrives_late() {
        use jobs_aws::ErrorKind;
        use jobs_aws::faults::{Fault, Faulty};

        let (sim, q) = queue().await;
        let mut faults = vec![Fault::Fail(ErrorKind::Service), Fault::Delay(Duration::from_secs(1))].into_iter();
        let faulty = Faulty::new(sim.clone(), Box::new(move |_, _| faults.next().unwrap_or(Fault::None)));
        let faulty = JobQueue::over(Arc::new(faulty), q.url(), None);
        q.send("m").await.unwrap();
        let m = q.receive(Duration::ZERO, Duration::from_secs(30)).await.unwrap().unwrap();
        assert!(faulty.delete(&m.receipt_handle).await.is_err());
        assert_eq!(sim.world().messages(q.url()).len(), 1, "the failed delete never reached the queue");
        let delete = faulty.delete(&m.receipt_handle);
        tokio::pin!(delete);
        assert!(tokio::time::timeout(Duration::from_millis(500), &mut delete).await.is_err(), "still on its way");
        assert_eq!(sim.world().messages(q.url()).len(), 1, "a delayed delete has not arrived yet");
        delete.await.unwrap();
        assert!(sim.world().messages(q.url()).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_poll_answers_when_a_message_arrives_becomes_visible_or_the_wait_is_over() {
        let (_, q) = queue().await;
        let (wait, hide) = (Duration::from_secs(20), Duration::from_secs(30));
        let start = Instant::now();
        assert!(q.receive(wait, hide).await.unwrap().is_none());
        assert_eq!(start.elapsed(), wait, "an empty queue: the whole wait");

        q.send_copy("delayed", Duration::from_secs(7), CopyMeta { deferrals: 2, ..CopyMeta::default() }).await.unwrap();
        let start = Instant::now();
        let m = q.receive(wait, hide).await.unwrap().unwrap();
        assert_eq!((m.body.as_str(), m.deferrals, m.receive_count), ("delayed", 2, 1));
        assert_eq!(start.elapsed(), Duration::from_secs(7), "when the delay is over");

        let sender = q.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            sender.send("sent").await.unwrap();
        });
        let start = Instant::now();
        assert_eq!(q.receive(wait, hide).await.unwrap().unwrap().body, "sent");
        assert_eq!(start.elapsed(), Duration::from_secs(3), "when a message is sent");

        let start = Instant::now();
        let again = q.receive(wait, hide).await.unwrap();
        assert!(again.is_none(), "both messages are hidden for 30 s, past the 20 s wait");
        assert_eq!(start.elapsed(), wait);
        let m = q.receive(wait, hide).await.unwrap().unwrap();
        assert_eq!((m.body.as_str(), m.receive_count), ("delayed", 2), "hidden 30 s from its receive at 27 s");
    }

    #[tokio::test(start_paused = true)]
    async fn the_queues_failures_are_classified_as_the_sdk_adapters_are() {
        let (_, q) = queue().await;
        let refused = q.send("\u{0}").await.unwrap_err();
        assert_eq!(refused.kind(), jobs_aws::ErrorKind::Invalid, "{refused}");
        let stale = q.set_visibility("sim-rh:99:1", Duration::ZERO).await.unwrap_err();
        assert_eq!(stale.kind(), jobs_aws::ErrorKind::Service, "{stale}");
        let sim = SimSqs::new(Sqs::new());
        let gone = JobQueue::over(Arc::new(sim), "https://sqs.us-east-1.amazonaws.com/000000000000/gone", None);
        let missing = gone.send("a").await.unwrap_err();
        assert_eq!(missing.kind(), jobs_aws::ErrorKind::NotFound, "{missing}");
    }
}
