//! The harness on an endpoint it did not start (`EMULATOR=external`): each stack's resources are
//! its own and are deleted when it is dropped, also when its test panics; a missing feature makes
//! a test skip instead of fail. The "external" endpoint here is a ministack process this test
//! starts and the harness only connects to.

use testkit::{Emulator, Feature, Kind, Stack, sweep};

fn external(endpoint: &str, features: Vec<Feature>) -> Emulator {
    Emulator::external_at(endpoint, features)
}

#[tokio::test(flavor = "multi_thread")]
async fn stacks_on_an_external_endpoint_are_isolated_and_deleted_when_dropped() {
    let emulator = Emulator::spawn(Kind::Ministack);
    let sdk = emulator.sdk_config();
    let prefix = "harness-";
    let a = Stack::start_on(external(&emulator.endpoint, vec![]), prefix).await;
    let b = Stack::start_on(external(&emulator.endpoint, vec![]), prefix).await;
    assert_ne!(a.resources.table, b.resources.table, "each test gets its own resources");
    let job = a.submit("noop", serde_json::json!({})).await;
    assert!(b.store.get(&job.job_id).await.unwrap().is_none(), "a job of one stack is not in another's table");

    let found = sweep::find(&sdk, prefix).await.unwrap();
    // Per stack: each lane's queues (normal, high) and each pool's DLQ, a table, a schedule group.
    let queues = 2 * jobs_core::catalog::lanes().len() + jobs_core::pools::pools().iter().count();
    assert_eq!((found.queues.len(), found.tables.len(), found.groups.len()), (2 * queues, 2, 2));

    drop(a);
    let found = sweep::find(&sdk, prefix).await.unwrap();
    assert_eq!((found.queues.len(), found.tables.len(), found.groups.len()), (queues, 1, 1), "a's resources are gone");
    assert!(found.tables.contains(&b.resources.table));
    drop(b);
    assert_eq!(sweep::find(&sdk, prefix).await.unwrap().count(), 0, "nothing is left");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_test_still_deletes_its_resources() {
    let emulator = Emulator::spawn(Kind::Ministack);
    let endpoint = emulator.endpoint.clone();
    let failed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let stack = Stack::start_on(external(&endpoint, vec![]), "panics-").await;
            stack.submit("noop", serde_json::json!({})).await;
            panic!("the test fails with its stack alive");
        })
    })
    .join();
    assert!(failed.is_err(), "the test thread panicked");
    assert_eq!(sweep::find(&emulator.sdk_config(), "panics-").await.unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sweep_deletes_what_a_killed_test_left() {
    let emulator = Emulator::spawn(Kind::Ministack);
    let sdk = emulator.sdk_config();
    // A killed test never drops its stack: forget it.
    std::mem::forget(Stack::start_on(external(&emulator.endpoint, vec![]), "killed-").await);
    let left = sweep::find(&sdk, "killed-").await.unwrap();
    let queues = 2 * jobs_core::catalog::lanes().len() + jobs_core::pools::pools().iter().count();
    assert_eq!(left.count(), queues + 2, "each lane's queues, each pool's DLQ, table, schedule group");
    assert_eq!(sweep::find(&sdk, "other-").await.unwrap().count(), 0, "the prefix selects");
    sweep::delete(&sdk, &left).await.unwrap();
    assert_eq!(sweep::find(&sdk, "killed-").await.unwrap().count(), 0);
}

/// (`lacks` on a missing feature is left out: it would list this test among the skipped ones.)
#[test]
fn features_are_the_emulators_own_or_the_declared_ones() {
    let moto = Emulator::spawn(Kind::Moto);
    assert!(!moto.provides(Feature::ScheduleFiring), "moto does not fire schedules");
    let ministack = Emulator::spawn(Kind::Ministack);
    assert!(!ministack.lacks(Feature::ScheduleFiring) && !ministack.lacks(Feature::Ttl));
    let declared = external(&ministack.endpoint, vec![Feature::Ttl]);
    assert!(declared.provides(Feature::Ttl) && !declared.provides(Feature::ScheduleFiring));
}
