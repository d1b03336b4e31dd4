use serde_json::{Value, json};

use super::*;
use crate::catalog::{JobSpec, Runtime, command_kinds, kind_info};
#[cfg(feature = "validate")]
use crate::kinds::SpecError;

fn declare(name: &str, patch: Value) -> Result<CommandKinds, CommandKindsError> {
    let mut config = json!({
        "description": "a command",
        "image": {"build": "examples"},
        "command": ["sh", "job.sh"],
        "example": {}
    });
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            config.as_object_mut().unwrap().remove(k);
        } else {
            config[k] = v.clone();
        }
    }
    let config: CommandConfig = serde_json::from_value(config).map_err(|e| CommandKindsError::Json(e.to_string()))?;
    CommandKinds::new([(name.to_owned(), config)].into(), crate::pools::pools(), &["noop", "sleep"])
}

#[test]
fn declarations_table() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    // (name, changes to a valid declaration, None or a fragment of the refusal)
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("report", json!({}), None),
        ("etl-2", json!({"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl:1.4", "pool": "large"}), None),
        ("report", json!({"schema": schema.clone(), "example": {"n": 1}, "permanentExitCodes": [3, 64]}), None),
        ("report", json!({"env": {"REGION": "eu", "_X1": "y"}, "timeoutSecs": 3600, "maxAttempts": 5}), None),
        ("noop", json!({}), Some("a Rust kind has this name")),
        ("Report", json!({}), Some("the name must be")),
        ("a-", json!({}), Some("the name must be")),
        ("x".repeat(25).leak(), json!({}), Some("the name must be")),
        ("etl-high", json!({}), Some("the name must be")),
        ("dlq", json!({}), Some("the name must be")),
        ("long", json!({}), Some("a pool has this name")),
        ("report", json!({"description": " "}), Some("description")),
        ("report", json!({"pool": "gpu"}), Some("pool \"gpu\" is not declared")),
        ("report", json!({"image": ""}), Some("not an image reference")),
        ("report", json!({"image": {"build": "../elsewhere"}}), Some("inside the repository")),
        ("report", json!({"command": []}), Some("command must be")),
        ("report", json!({"command": ["sh", ""]}), Some("command must be")),
        ("report", json!({"workingDir": ""}), Some("workingDir")),
        ("report", json!({"env": {"JOB_ID": "x"}}), Some("the job contract's")),
        ("report", json!({"env": {"lower": "x"}}), Some("env \"lower\"")),
        ("report", json!({"permanentExitCodes": [0]}), Some("0 is not an exit code of a failure")),
        ("report", json!({"permanentExitCodes": [256]}), Some("256 is not")),
        ("report", json!({"maxAttempts": 0}), Some("maxAttempts")),
        ("report", json!({"timeoutSecs": 3601}), Some("timeoutSecs must be 1 to the pool's time limit (3600 s)")),
        ("report", json!({"timeoutSecs": 0}), Some("timeoutSecs")),
        ("report", json!({"startDeadlineMinutes": 30}), None),
        ("report", json!({"startDeadlineMinutes": 5}), Some("startDeadlineMinutes must be 10 to 20160")),
        ("report", json!({"backoffMaxSecs": 43201}), Some("backoffMaxSecs")),
        ("report", json!({"schema": "text"}), Some("schema: a JSON Schema is an object")),
        ("report", json!({"example": []}), Some("example: the payload must be a JSON object")),
        ("report", json!({"example": null}), Some("missing field `example`")),
        ("report", json!({"unknown": 1}), Some("unknown field")),
    ];
    for (name, patch, want) in cases {
        match (declare(name, patch.clone()), want) {
            (Ok(kinds), None) => assert_eq!(kinds.get(name).map(|k| k.name.as_str()), Some(name)),
            (Err(e), Some(fragment)) => assert!(e.to_string().contains(fragment), "{name} {patch}: {e}"),
            (got, want) => panic!("{name} {patch}: got {got:?}, want {want:?}"),
        }
    }
}

/// With the `validate` feature (the API's build): the schema is compiled and the example checked.
#[cfg(feature = "validate")]
#[test]
fn schemas_compile_and_examples_meet_them() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"schema": {"type": "no-such-type"}}), "schema:"),
        (json!({"schema": schema, "example": {"n": "one"}}), "example: /n: "),
    ];
    for (patch, fragment) in cases {
        let kinds = declare("report", patch.clone()).expect("declared: the schema is checked apart");
        let e = kinds.check_schemas().expect_err(&patch.to_string()).to_string();
        assert!(e.contains(fragment), "{patch}: {e}");
    }
    command_kinds().check_schemas().expect("the shipped schemas compile and their examples meet them");
}

#[test]
fn the_config_declares_valid_command_kinds_each_with_an_example_that_passes() {
    let kinds = command_kinds();
    assert!(kinds.iter().count() >= 2, "the shipped examples");
    for kind in kinds.iter() {
        let info = kind_info(&kind.name).expect("listed with the Rust kinds");
        assert_eq!(info.runtime, Runtime::Command);
        assert_eq!(info.policy.pool, kind.config.pool);
        let spec = JobSpec::parse(&kind.name, info.example.clone()).expect("the example passes");
        assert_eq!((spec.kind(), spec.payload()), (kind.name.as_str(), info.example.clone()));
        if let Some(dir) = &kind.config.working_dir {
            let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
            assert!(here.is_dir(), "{}: workingDir {dir} is in the repository", kind.name);
        }
    }
    for info in crate::catalog::kinds().iter().filter(|k| k.runtime == Runtime::Rust) {
        JobSpec::parse(info.name, info.example.clone()).unwrap_or_else(|e| panic!("{}'s example: {e}", info.name));
    }
}

/// The API's check (`JobSpec::accept`); the worker's parse (`JobSpec::parse`) checks the object
/// only, whatever the build.
#[cfg(feature = "validate")]
#[test]
fn payloads_are_checked_against_the_kinds_schema() {
    assert!(JobSpec::parse("report", json!({"campaign": "Spring Sale"})).is_ok(), "the worker runs what was accepted");
    assert!(JobSpec::parse("report", json!([1])).is_err());
    // (kind, payload, Ok(payload as stored) or Err(fragment))
    let cases: Vec<(&str, Value, Result<Value, &str>)> = vec![
        ("report", json!({"campaign": "spring"}), Ok(json!({"campaign": "spring"}))),
        ("report", json!({"campaign": "spring", "days": 7.0}), Ok(json!({"campaign": "spring", "days": 7.0}))),
        ("report", json!({}), Err("\"campaign\" is a required property")),
        ("report", json!({"campaign": "Spring Sale"}), Err("/campaign: ")),
        ("report", json!({"campaign": "s", "channels": ["email", "fax"]}), Err("/channels/1: ")),
        ("report", json!({"campaign": "s", "days": 0}), Err("/days: 0 is less than the minimum of 1")),
        ("report", json!({"campaign": "s", "extra": 1}), Err("Additional properties are not allowed")),
        ("report", json!("spring"), Err("the payload must be a JSON object, not a string")),
        ("report", Value::Null, Err("\"campaign\" is a required property")),
        ("shell", Value::Null, Ok(json!({}))),
        ("shell", json!({"seconds": 3601}), Err("/seconds: ")),
    ];
    for (kind, payload, want) in cases {
        match (JobSpec::accept(kind, payload.clone()), want) {
            (Ok(spec), Ok(stored)) => assert_eq!(spec.payload(), stored, "{kind} {payload}"),
            (Err(SpecError::InvalidPayload { kind: k, reason }), Err(fragment)) => {
                assert_eq!(k, kind);
                assert!(reason.contains(fragment), "{kind} {payload}: {reason}");
            }
            (got, want) => panic!("{kind} {payload}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn each_command_kind_has_a_lane_of_its_own_after_the_pools() {
    use crate::catalog::{lane_of, lanes};
    use crate::pools::Lane;
    let names: Vec<(&str, &str, bool)> = lanes().iter().map(|l| (l.name, l.pool, l.command)).collect();
    assert_eq!(
        names,
        [
            ("default", "default", false),
            ("large", "large", false),
            ("long", "long", false),
            ("short", "short", false),
            ("report", "default", true),
            ("shell", "default", true),
        ]
    );
    // (kind, its lane)
    for (kind, lane) in
        [("report", "report"), ("shell", "shell"), ("sleep", "long"), ("noop", "default"), ("nope", "default")]
    {
        assert_eq!(lane_of(kind), lane, "{kind}");
    }
    assert!(lanes().iter().all(|l: &Lane| crate::pools::pools().get(l.pool).is_some()));
}

#[test]
fn start_deadlines_come_from_the_kind_then_its_pool_then_the_default() {
    use crate::pools::{Pool, PoolConfig};
    use std::time::Duration;
    let pool = |minutes: Option<u32>| {
        let base = crate::pools::pools().default_pool().config.clone();
        Pool { name: "default".into(), config: PoolConfig { start_deadline_minutes: minutes, ..base } }
    };
    let kind = |minutes: Option<u32>| {
        let patch = minutes.map_or(json!({}), |m| json!({"startDeadlineMinutes": m}));
        declare("report", patch).unwrap().0.remove(0)
    };
    // (the kind's, the pool's, the deadline)
    let cases =
        [(Some(30), Some(120), 30), (None, Some(120), 120), (None, None, DEFAULT_START_DEADLINE.as_secs() / 60)];
    for (own, pools, want) in cases {
        assert_eq!(kind(own).start_deadline(&pool(pools)), Duration::from_secs(want * 60), "{own:?} {pools:?}");
    }
    // The shipped lanes: command kinds have one, pools that declare none wait as long as it takes.
    for lane in crate::catalog::lanes() {
        let pool = crate::pools::pools().get(lane.pool).unwrap();
        let want = if lane.command {
            Some(crate::catalog::command_kinds().get(lane.name).unwrap().start_deadline(pool))
        } else {
            pool.start_deadline()
        };
        assert_eq!(lane.start_deadline, want, "{}", lane.name);
        assert_eq!(crate::catalog::lane(lane.name), Some(lane));
    }
}
