//! The resources of a test run on a shared endpoint, found by their name prefix: what
//! `test-resources` reports or deletes, and what the harness's own test checks.

use aws_config::SdkConfig;
use jobs_aws::BackendError;
use jobs_aws::provision;

#[derive(Default)]
pub struct Found {
    /// Queue URLs.
    pub queues: Vec<String>,
    pub tables: Vec<String>,
    /// Schedule groups (deleting one deletes its schedules).
    pub groups: Vec<String>,
}

impl Found {
    pub fn count(&self) -> usize {
        self.queues.len() + self.tables.len() + self.groups.len()
    }
}

/// Every queue, table and schedule group whose name starts with `prefix`.
pub async fn find(sdk: &SdkConfig, prefix: &str) -> Result<Found, BackendError> {
    let mut found = Found::default();
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut token = None;
    loop {
        let out = sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| BackendError::from_sdk("ListQueues", e))?;
        found.queues.extend(out.queue_urls.unwrap_or_default());
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let mut start = None;
    loop {
        let out = ddb
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .map_err(|e| BackendError::from_sdk("ListTables", e))?;
        found.tables.extend(out.table_names.unwrap_or_default().into_iter().filter(|t| t.starts_with(prefix)));
        start = out.last_evaluated_table_name;
        if start.is_none() {
            break;
        }
    }
    let scheduler = aws_sdk_scheduler::Client::new(sdk);
    let mut token = None;
    loop {
        let out = scheduler
            .list_schedule_groups()
            .name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| BackendError::from_sdk("ListScheduleGroups", e))?;
        // Filtered here too: not every emulator applies NamePrefix.
        found.groups.extend(out.schedule_groups.into_iter().filter_map(|g| g.name).filter(|n| n.starts_with(prefix)));
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Deletes what [`find`] found.
pub async fn delete(sdk: &SdkConfig, found: &Found) -> Result<(), BackendError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for url in &found.queues {
        provision::delete_queue(&sqs, url).await?;
    }
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    for table in &found.tables {
        provision::delete_table(&ddb, table).await?;
    }
    let scheduler = aws_sdk_scheduler::Client::new(sdk);
    for group in &found.groups {
        jobs_aws::scheduler::delete_group(&scheduler, group).await?;
    }
    Ok(())
}
