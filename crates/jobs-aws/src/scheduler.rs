//! EventBridge Scheduler: schedules in the project's group that send a job message to the queue.
//! [`Scheduler`] is the one seam the API's schedule routes use; [`Schedules`] implements it over
//! the SDK, and the simulator's in-memory Scheduler (`jobs-sim`), which also fires, implements it
//! in memory.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target,
};
use chrono::{DateTime, Utc};

use crate::error::BackendError;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("a schedule named {0:?} already exists")]
    Conflict(String),
    #[error("no schedule named {0:?}")]
    NotFound(String),
    /// EventBridge Scheduler refused the definition (`ValidationException`): the caller's input.
    #[error("EventBridge Scheduler refused the schedule: {0}")]
    Invalid(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A future the port returns (boxed, so the API's state holds any implementation).
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, SchedulerError>> + Send + 'a>>;

/// The operations on the project's schedule group the API uses.
pub trait Scheduler: Send + Sync {
    /// Creates a schedule with no flexible time window whose target is `req.target_arn`.
    fn create<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()>;
    /// Replaces an existing schedule's definition (EventBridge `UpdateSchedule` takes it whole).
    fn update<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()>;
    fn get<'a>(&'a self, name: &'a str) -> Answer<'a, ScheduleInfo>;
    /// Every schedule in the group, oldest first.
    fn list(&self) -> Answer<'_, Vec<ScheduleInfo>>;
    fn delete<'a>(&'a self, name: &'a str) -> Answer<'a, ()>;
}

/// A schedule to create.
#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    pub name: String,
    /// An EventBridge expression: `cron(…)`, `rate(…)` or `at(…)`.
    pub expression: String,
    pub timezone: String,
    /// The message sent at each firing.
    pub input: String,
    pub description: String,
    /// ENABLED (fires) or DISABLED (paused).
    pub enabled: bool,
    /// The queue each firing sends to: the job kind's pool's queue of the schedule's priority.
    pub target_arn: String,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInfo {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    pub state: String,
    pub input: Option<String>,
    pub target_arn: String,
    pub description: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// When a recurring schedule may begin (`None`: from its creation). A `rate()` counts its
    /// periods from it.
    pub start_date: Option<DateTime<Utc>>,
}

/// The whole definition on a CreateSchedule or UpdateSchedule builder (the same fields, two
/// builder types).
macro_rules! define {
    ($builder:expr, $self:ident, $req:ident, $target:ident, $window:ident, $after:ident, $state:ident) => {
        $builder
            .name(&$req.name)
            .group_name(&$self.group)
            .schedule_expression(&$req.expression)
            .schedule_expression_timezone(&$req.timezone)
            .flexible_time_window($window)
            .target($target)
            .state($state)
            .action_after_completion($after)
            .description(&$req.description)
    };
}

#[derive(Debug, Clone)]
pub struct Schedules {
    client: Client,
    group: String,
    role_arn: String,
}

fn backend<E, R>(op: &str, err: aws_sdk_scheduler::error::SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    BackendError::from_sdk(format!("EventBridge Scheduler {op} failed"), err)
}

/// The error for a refused call about schedule `name`: the codes that describe the request (a
/// name taken or missing, a definition refused) are the caller's; anything else is the backend's.
fn refusal<E, R>(name: &str, op: &str, err: aws_sdk_scheduler::error::SdkError<E, R>) -> SchedulerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("ConflictException") => SchedulerError::Conflict(name.to_owned()),
        Some("ResourceNotFoundException") => SchedulerError::NotFound(name.to_owned()),
        Some("ValidationException") => {
            SchedulerError::Invalid(err.message().unwrap_or("the definition is not valid").to_owned())
        }
        _ => backend(op, err).into(),
    }
}

impl Schedules {
    pub fn new(client: Client, group: impl Into<String>, role_arn: impl Into<String>) -> Self {
        Schedules { client, group: group.into(), role_arn: role_arn.into() }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    fn parts(&self, req: &ScheduleRequest) -> (Target, FlexibleTimeWindow, ActionAfterCompletion, ScheduleState) {
        let target = Target::builder()
            .arn(&req.target_arn)
            .role_arn(&self.role_arn)
            .input(&req.input)
            .build()
            .expect("target is complete");
        let window =
            FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().expect("window is complete");
        // One-time `at()` schedules delete themselves after firing.
        let after =
            if req.expression.starts_with("at(") { ActionAfterCompletion::Delete } else { ActionAfterCompletion::None };
        let state = if req.enabled { ScheduleState::Enabled } else { ScheduleState::Disabled };
        (target, window, after, state)
    }

    async fn create_schedule(&self, req: &ScheduleRequest) -> Result<(), SchedulerError> {
        let (target, window, after, state) = self.parts(req);
        define!(self.client.create_schedule(), self, req, target, window, after, state)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| refusal(&req.name, "CreateSchedule", e))
    }

    async fn update_schedule(&self, req: &ScheduleRequest) -> Result<(), SchedulerError> {
        let (target, window, after, state) = self.parts(req);
        define!(self.client.update_schedule(), self, req, target, window, after, state)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| refusal(&req.name, "UpdateSchedule", e))
    }

    async fn get_schedule(&self, name: &str) -> Result<ScheduleInfo, SchedulerError> {
        let out = self
            .client
            .get_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
            .map_err(|e| refusal(name, "GetSchedule", e))?;
        Ok(ScheduleInfo {
            name: out.name.unwrap_or_else(|| name.to_owned()),
            expression: out.schedule_expression.unwrap_or_default(),
            timezone: out.schedule_expression_timezone.unwrap_or_else(|| "UTC".into()),
            state: out.state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            input: out.target.as_ref().and_then(|t| t.input.clone()),
            target_arn: out.target.map(|t| t.arn).unwrap_or_default(),
            description: out.description,
            created_at: out.creation_date.and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
            start_date: out.start_date.and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
        })
    }

    /// One `GetSchedule` per schedule for the details.
    async fn list_schedules(&self) -> Result<Vec<ScheduleInfo>, SchedulerError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| SchedulerError::from(backend("ListSchedules", e)))?;
            names.extend(out.schedules.into_iter().filter_map(|s| s.name));
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        let mut found = Vec::with_capacity(names.len());
        for name in names {
            match self.get_schedule(&name).await {
                Ok(info) => found.push(info),
                // Deleted between the list and the get.
                Err(SchedulerError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)));
        Ok(found)
    }

    async fn delete_schedule(&self, name: &str) -> Result<(), SchedulerError> {
        self.client
            .delete_schedule()
            .name(name)
            .group_name(&self.group)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| refusal(name, "DeleteSchedule", e))
    }
}

impl Scheduler for Schedules {
    fn create<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        Box::pin(self.create_schedule(req))
    }
    fn update<'a>(&'a self, req: &'a ScheduleRequest) -> Answer<'a, ()> {
        Box::pin(self.update_schedule(req))
    }
    fn get<'a>(&'a self, name: &'a str) -> Answer<'a, ScheduleInfo> {
        Box::pin(self.get_schedule(name))
    }
    fn list(&self) -> Answer<'_, Vec<ScheduleInfo>> {
        Box::pin(self.list_schedules())
    }
    fn delete<'a>(&'a self, name: &'a str) -> Answer<'a, ()> {
        Box::pin(self.delete_schedule(name))
    }
}

/// Creates the schedule group if it is missing (local stack and tests).
pub async fn ensure_group(client: &Client, group: &str) -> Result<(), BackendError> {
    match client.create_schedule_group().name(group).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConflictException") => Ok(()),
        Err(e) => Err(backend("CreateScheduleGroup", e)),
    }
}

/// Deletes a schedule group and, with it, its schedules. A group that does not exist is no error.
pub async fn delete_group(client: &Client, group: &str) -> Result<(), BackendError> {
    match client.delete_schedule_group().name(group).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(backend("DeleteScheduleGroup", e)),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_scheduler::error::{ErrorMetadata, SdkError};
    use aws_sdk_scheduler::operation::create_schedule::CreateScheduleError;

    use super::*;

    fn refused(code: &str) -> SchedulerError {
        let meta = ErrorMetadata::builder().code(code).message("the message").build();
        refusal(
            "nightly",
            "CreateSchedule",
            SdkError::<CreateScheduleError, ()>::service_error(CreateScheduleError::generic(meta), ()),
        )
    }

    #[test]
    fn refusals_that_describe_the_request_are_the_callers() {
        assert!(matches!(refused("ValidationException"), SchedulerError::Invalid(m) if m == "the message"));
        assert!(matches!(refused("ConflictException"), SchedulerError::Conflict(n) if n == "nightly"));
        assert!(matches!(refused("ResourceNotFoundException"), SchedulerError::NotFound(n) if n == "nightly"));
        for code in ["ThrottlingException", "InternalServerException", "AccessDeniedException"] {
            assert!(matches!(refused(code), SchedulerError::Backend(_)), "{code}");
        }
    }
}
