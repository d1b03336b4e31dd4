use std::time::Duration;

use serde_json::{Value, json};

use super::queues::{dlq_name, queue_name};
use super::*;

fn pool(overrides: Value) -> Value {
    let mut p = json!({
        "description": "d", "capacity": "spot",
        "cpu": {"request": "250m", "limit": "1"}, "memory": {"request": "128Mi", "limit": "512Mi"},
        "ephemeralStorage": "1Gi", "timeLimitMinutes": 60, "maxReplicas": 50, "pollingIntervalSecs": 10,
        "execution": {"mode": "one-per-pod"}
    });
    for (k, v) in overrides.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn parse(pools: Value) -> Result<Pools, PoolsError> {
    Pools::from_config(&json!({"appName": "x", "pools": pools}).to_string())
}

#[test]
fn the_shipped_config_declares_valid_pools_and_every_kind_names_one() {
    let pools = pools();
    assert_eq!(pools.default_pool().name, DEFAULT_POOL);
    assert_eq!(pools.names().collect::<Vec<_>>(), ["default", "large", "long", "short"]);
    for kind in crate::kinds() {
        assert!(
            pools.get(kind.policy.pool).is_some(),
            "kind {} names pool {:?}, not in the config",
            kind.name,
            kind.policy.pool
        );
    }
    // A job of hours runs: the long pool allows 12 hours.
    assert_eq!(pools.get("long").unwrap().time_limit(), MAX_TIME_LIMIT);
}

/// A job longer than the single pool's old 63-minute limit runs: a 2-hour `sleep` is a valid job,
/// its attempt may last its pool's 12 hours, and its pod's deadline covers that attempt.
#[test]
fn a_two_hour_job_fits_its_pool() {
    let spec = crate::JobSpec::parse("sleep", json!({"ms": 2 * 3_600_000})).unwrap();
    let pool = pools().get(spec.policy().pool).unwrap();
    let limit = spec.policy().timeout(pool.time_limit());
    assert!(limit >= Duration::from_secs(2 * 3600) && limit > Duration::from_secs(63 * 60), "{limit:?}");
    assert!(pool.timing().active_deadline > limit + STOP_MARGIN);
    assert_eq!(pool.config.capacity, Capacity::OnDemand, "no spot reclaim under a job of hours");
}

#[test]
fn deadlines_follow_the_time_limit_with_the_margins() {
    let s = Duration::from_secs;
    // (overrides, attempt timeout, active deadline)
    let cases = [
        (json!({}), s(3600), s(300 + 3600 + 60)),
        (json!({"timeLimitMinutes": 720}), s(43_200), s(300 + 43_200 + 60)),
        (
            json!({"timeLimitMinutes": 5, "execution": {"mode": "drain", "maxJobs": 10, "maxMinutes": 10}}),
            s(300),
            s(300 + 600 + 300 + 60),
        ),
    ];
    for (overrides, attempt, deadline) in cases {
        let pools = parse(json!({"default": pool(overrides.clone())})).unwrap();
        let t = pools.default_pool().timing();
        assert_eq!((t.attempt_timeout, t.active_deadline), (attempt, deadline), "{overrides}");
        assert!(t.active_deadline > t.attempt_timeout + STOP_MARGIN);
    }
}

#[test]
fn invalid_pools_are_refused_with_the_reason() {
    // (pools, fragment of the error)
    let cases = [
        (json!({"other": pool(json!({}))}), "must include \"default\""),
        (json!({"default": pool(json!({})), "Big": pool(json!({}))}), "pool name \"Big\""),
        (json!({"default": pool(json!({})), "high": pool(json!({}))}), "pool name \"high\""),
        (json!({"default": pool(json!({})), "a-b": pool(json!({}))}), "pool name \"a-b\""),
        (json!({"default": pool(json!({})), "abcdefghijklmnopq": pool(json!({}))}), "pool name"),
        (json!({"default": pool(json!({"timeLimitMinutes": 721}))}), "timeLimitMinutes must be 1 to 720"),
        (json!({"default": pool(json!({"timeLimitMinutes": 0}))}), "timeLimitMinutes"),
        (json!({"default": pool(json!({"cpu": {"request": "2", "limit": "1"}}))}), "cpu: the request must be"),
        (json!({"default": pool(json!({"memory": {"request": "1Gx", "limit": "1Gi"}}))}), "not a Kubernetes quantity"),
        (json!({"default": pool(json!({"ephemeralStorage": "lots"}))}), "ephemeralStorage"),
        (json!({"default": pool(json!({"maxReplicas": 0}))}), "maxReplicas"),
        (json!({"default": pool(json!({"pollingIntervalSecs": 301}))}), "pollingIntervalSecs"),
        (json!({"default": pool(json!({"description": " "}))}), "description"),
        (json!({"default": pool(json!({"execution": {"mode": "drain", "maxJobs": 0, "maxMinutes": 1}}))}), "drain"),
        (json!({"default": pool(json!({"execution": {"mode": "batch"}}))}), "unknown variant"),
        (json!({"default": pool(json!({"capacity": "reserved"}))}), "unknown variant"),
        (json!({"default": pool(json!({"gpu": 1}))}), "unknown field `gpu`"),
        (json!({"default": pool(json!({"startDeadlineMinutes": 9}))}), "startDeadlineMinutes must be 10 to 20160"),
        (json!({"default": pool(json!({"startDeadlineMinutes": 20161}))}), "startDeadlineMinutes must be 10 to 20160"),
    ];
    for (pools, fragment) in cases {
        let e = parse(pools.clone()).expect_err(&pools.to_string()).to_string();
        assert!(e.contains(fragment), "{pools}: {e}");
    }
}

#[test]
fn queue_names_table() {
    use crate::pools::Lane;
    let lanes = [
        Lane { name: "default", pool: "default", command: false, start_deadline: None },
        Lane { name: "long", pool: "long", command: false, start_deadline: None },
        Lane { name: "etl-v2", pool: "long", command: true, start_deadline: None },
    ];
    // (lane, pool, priority, queue, the pool's dlq)
    let cases = [
        ("default", "default", Priority::Normal, "jobs", "jobs-dlq"),
        ("default", "default", Priority::High, "jobs-high", "jobs-dlq"),
        ("long", "long", Priority::Normal, "jobs-long", "jobs-long-dlq"),
        ("long", "long", Priority::High, "jobs-long-high", "jobs-long-dlq"),
        ("etl-v2", "long", Priority::Normal, "jobs-etl-v2", "jobs-long-dlq"),
        ("etl-v2", "long", Priority::High, "jobs-etl-v2-high", "jobs-long-dlq"),
    ];
    let queues = Queues::from_default_url("http://127.0.0.1:4566/000000000000/jobs").unwrap();
    for (lane, pool, priority, name, dlq) in cases {
        assert_eq!(queue_name("jobs", lane, priority), name);
        assert_eq!(dlq_name("jobs", pool), dlq);
        assert_eq!(queues.url(lane, priority), format!("http://127.0.0.1:4566/000000000000/{name}"));
        assert_eq!(queues.dlq_url(pool), format!("http://127.0.0.1:4566/000000000000/{dlq}"));
        let which = queues.which(&queues.url(lane, priority), &lanes).unwrap();
        assert_eq!((which.lane.as_str(), which.pool.as_str(), which.priority), (lane, pool, priority));
    }
    assert_eq!(queues.which("http://127.0.0.1:4566/000000000000/jobs-dlq", &lanes), None);
    assert_eq!(queues.base(), "jobs");
    assert_eq!(
        super::queues::sibling_arn("arn:aws:sqs:eu-west-1:1:jobs", "long", Priority::High),
        "arn:aws:sqs:eu-west-1:1:jobs-long-high"
    );
    assert_eq!(
        super::queues::sibling_arn("arn:aws:sqs:eu-west-1:1:jobs", "default", Priority::Normal),
        "arn:aws:sqs:eu-west-1:1:jobs"
    );
}

#[test]
fn queue_urls_must_name_a_queue() {
    for url in ["jobs", "http://host", "", "/jobs", "http://h/a/"] {
        let ok = Queues::from_default_url(url);
        assert!(ok.is_err() || url == "http://h/a/", "{url}: {ok:?}");
    }
    assert_eq!(Queues::from_default_url("http://h/a/").unwrap().base(), "a");
    // The longest lane suffix, a command kind's `-<24>-high`, still fits SQS's 80 characters.
    let longest = format!("https://sqs.eu-west-1.amazonaws.com/1/{}", "q".repeat(50));
    let queues = Queues::from_default_url(&longest).unwrap();
    let name = queue_name(queues.base(), &"k".repeat(crate::command::MAX_NAME_LEN), Priority::High);
    assert_eq!(name.len(), 80);
    let long = format!("https://sqs.eu-west-1.amazonaws.com/1/{}", "q".repeat(51));
    assert!(matches!(Queues::from_default_url(&long), Err(QueueError::TooLong(_))));
}

#[test]
fn priorities_parse_and_order() {
    assert_eq!(Priority::parse("high"), Some(Priority::High));
    assert_eq!(Priority::parse("normal"), Some(Priority::Normal));
    assert_eq!(Priority::parse("urgent"), None);
    assert_eq!(Priority::default(), Priority::Normal);
    assert!(Priority::High < Priority::Normal, "received first sorts first");
    assert_eq!(serde_json::to_value(Priority::High).unwrap(), json!("high"));
}
