//! A schedule's lock for `overlap: forbid` (`jobs_core::overlap`): the item `SCHED#<name>` names
//! the job that holds the schedule. A firing takes it in the same transaction that creates the
//! job RUNNING, conditional on the holder it read, so two firings never both start.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use jobs_core::overlap::ScheduleLock;

use super::expr::Expr;
use super::handle::{JobStore, transact_update};
use super::item::{attr, s, schedule_key, ts};
use crate::error::BackendError;

impl JobStore {
    /// The job that holds schedule `schedule`'s lock (strongly consistent), if any.
    pub async fn schedule_holder(&self, schedule: &str) -> Result<Option<String>, BackendError> {
        let item = self.read_item("get-lock", schedule_key(schedule)).await?;
        Ok(item.and_then(|i| i.get(attr::HOLDER).and_then(|v| v.as_s().ok()).cloned()))
    }

    /// The transaction item that takes `lock` at `at`.
    pub(super) fn lock_item(&self, lock: &ScheduleLock, at: chrono::DateTime<chrono::Utc>) -> TransactWriteItem {
        TransactWriteItem::builder().update(lock_update(&self.table, lock, at)).build()
    }
}

fn lock_update(table: &str, lock: &ScheduleLock, at: chrono::DateTime<chrono::Utc>) -> Update {
    let mut e = Expr::default();
    e.set(attr::HOLDER, s(&lock.holder));
    e.set(attr::UPDATED_AT, ts(at));
    match &lock.expect {
        Some(holder) => e.require(attr::HOLDER, "=", s(holder)),
        None => {
            let name = e.name(attr::HOLDER);
            e.require_raw(format!("attribute_not_exists({name})"));
        }
    }
    transact_update(table, schedule_key(&lock.schedule), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::TABLE_KEY;

    #[test]
    fn the_lock_is_taken_only_from_the_holder_read() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let lock = |expect: Option<&str>| ScheduleLock {
            schedule: "nightly".into(),
            expect: expect.map(str::to_owned),
            holder: "sched:nightly:2".into(),
        };
        let free = lock_update("t", &lock(None), at);
        assert_eq!(free.key()[TABLE_KEY], s("SCHED#nightly"));
        let names = free.expression_attribute_names().unwrap();
        let cond = free.condition_expression().unwrap().to_owned();
        let holder = names.iter().find(|(_, v)| *v == attr::HOLDER).map(|(k, _)| k.clone()).unwrap();
        assert_eq!(cond, format!("attribute_not_exists({holder})"));
        let held = lock_update("t", &lock(Some("sched:nightly:1")), at);
        let values = held.expression_attribute_values().unwrap();
        let cond = held.condition_expression().unwrap();
        assert!(cond.starts_with(&format!("{holder} = :")), "{cond}");
        assert!(values.values().any(|v| v == &s("sched:nightly:1")), "the condition names the holder read");
        assert!(values.values().any(|v| v == &s("sched:nightly:2")), "the update names the new one");
    }
}
