//! The human forms of the API's answers: one line for a job or the stats, aligned tables for lists.
//! `--json` prints the answers as they came instead.

use serde_json::Value;

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let padded: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| if i == last { c } else { format!("{c:<w$}", w = widths[i]) })
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "-".into(),
    }
}

/// What a job waits for or why it ended: `next attempt <time>` (RETRY_WAIT), then its error (the
/// API gives none for a SUCCEEDED job: earlier failures are in its attempt history).
fn note(v: &Value) -> String {
    let next = v["nextAttemptAt"].as_str().filter(|_| v["status"] == "RETRY_WAIT").map(|t| format!("next attempt {t}"));
    let waiting = v["waitingFor"].as_str().map(|w| format!("waiting: {w}"));
    let error = v["lastError"].as_str().map(|e| format!("error: {e}"));
    [waiting, next, error].into_iter().flatten().collect::<Vec<_>>().join("  ")
}

/// One job: `id  STATUS  kind  attempts N  tenant t  by who  [next attempt …]  [error: …]`.
pub fn job_line(v: &Value) -> String {
    let mut line = format!("{}  {}", text(v, "jobId"), text(v, "status"));
    if v.get("job").is_some() {
        line += &format!(
            "  {}  attempts {}  tenant {}  by {}",
            text(v, "job"),
            text(v, "attempts"),
            text(v, "tenant"),
            text(v, "submittedBy")
        );
    }
    if v["priority"] == "high" {
        line += "  priority high";
    }
    let note = note(v);
    if !note.is_empty() {
        line += &format!("  {note}");
    }
    line
}

/// Jobs as a table (`GET /jobs`, `watch`).
pub fn jobs_table(jobs: &[Value]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                text(j, "jobId"),
                text(j, "status"),
                text(j, "job"),
                pool(j),
                text(j, "attempts"),
                text(j, "createdAt"),
                text(j, "tenant"),
                text(j, "submittedBy"),
                note(j),
            ]
        })
        .collect();
    table(&["JOB", "STATUS", "KIND", "POOL", "ATTEMPTS", "CREATED", "TENANT", "BY", "NOTE"], &rows)
}

/// A job's pool, with `high` when it has that priority.
fn pool(j: &Value) -> String {
    match j["priority"].as_str() {
        Some("high") => format!("{} high", text(j, "pool")),
        _ => text(j, "pool"),
    }
}

pub fn stats_line(v: &Value) -> String {
    let keys = [
        ("submitted", "submitted"),
        ("succeedJob", "succeeded"),
        ("failedJob", "failed"),
        ("jobRetry", "retries"),
        ("cancelled", "cancelled"),
        ("skipped", "skipped"),
        ("queued", "queued"),
        ("inFlight", "in flight"),
        ("delayed", "delayed"),
    ];
    keys.iter().map(|(k, name)| format!("{name} {}", text(v, k))).collect::<Vec<_>>().join("  ")
}

pub fn kinds_table(v: &Value) -> String {
    let kinds = v["kinds"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|k| {
            let p = &k["policy"];
            vec![
                text(k, "name"),
                text(k, "runtime"),
                text(k, "pool"),
                text(p, "maxAttempts"),
                format!("{} s", text(p, "timeoutSecs")),
                // How long a job may wait for its lane to start a worker at all ("-": forever).
                p["startDeadlineSecs"].as_u64().map_or_else(|| "-".into(), |s| format!("{} min", s / 60)),
                text(k, "description"),
            ]
        })
        .collect();
    table(&["KIND", "RUNTIME", "POOL", "ATTEMPTS", "TIMEOUT", "START BY", "DESCRIPTION"], &rows)
}

/// The pools (`GET /jobs/pools`): shape, limits, and the queues now.
pub fn pools_table(v: &Value) -> String {
    let pools = v["pools"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            let execution = match p["execution"]["mode"].as_str() {
                Some("drain") => format!(
                    "drain ≤{} jobs/{} min",
                    text(&p["execution"], "maxJobs"),
                    text(&p["execution"], "maxMinutes")
                ),
                other => other.unwrap_or("-").to_owned(),
            };
            let high = p["high"]["waiting"].as_u64().map_or("?".into(), |n| n.to_string());
            vec![
                text(p, "name"),
                text(p, "capacity"),
                format!("{}/{}", text(&p["cpu"], "request"), text(&p["cpu"], "limit")),
                format!("{}/{}", text(&p["memory"], "request"), text(&p["memory"], "limit")),
                format!("{} s", text(p, "timeLimitSecs")),
                text(p, "maxReplicas"),
                execution,
                format!("{} ({} high)", text(p, "waiting"), high),
                text(p, "running"),
                p["kinds"]
                    .as_array()
                    .map(|k| k.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["POOL", "CAPACITY", "CPU", "MEMORY", "TIME LIMIT", "MAX PODS", "EXECUTION", "WAITING", "RUNNING", "KINDS"],
        &rows,
    )
}

/// Tenants: the limits that apply (`-`: none) and what each uses now.
pub fn tenants_table(tenants: &[Value]) -> String {
    let limit = |v: &Value| v.as_u64().map_or("-".to_owned(), |n| n.to_string());
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            let (l, u) = (&t["limits"], &t["usage"]);
            vec![
                text(t, "tenant"),
                limit(&l["maxRunning"]),
                limit(&l["maxStartsPerMinute"]),
                text(l, "weight"),
                text(u, "active"),
                text(u, "running"),
                text(u, "waiting"),
                text(u, "startsThisMinute"),
            ]
        })
        .collect();
    table(
        &["TENANT", "MAX RUNNING", "MAX STARTS/MIN", "WEIGHT", "SLOTS", "RUNNING", "WAITING", "STARTS THIS MIN"],
        &rows,
    )
}

fn schedule_row(s: &Value) -> Vec<String> {
    let next = s["nextFireTimes"].as_array().and_then(|t| t.first()).and_then(Value::as_str).unwrap_or("-");
    let last = match &s["lastRun"] {
        Value::Object(_) => {
            let run = &s["lastRun"];
            format!("{} {} at {}", text(run, "status"), text(run, "jobId"), text(run, "at"))
        }
        _ => "-".into(),
    };
    vec![
        text(s, "name"),
        text(s, "state"),
        text(s, "expression"),
        text(s, "timezone"),
        // Its firings' priority, when it is not the default.
        if s["priority"] == "high" { format!("{} high", text(s, "job")) } else { text(s, "job") },
        text(s, "tenant"),
        text(s, "overlap"),
        next.into(),
        last,
    ]
}

const SCHEDULE_HEADER: [&str; 9] =
    ["SCHEDULE", "STATE", "EXPRESSION", "TIMEZONE", "KIND", "TENANT", "OVERLAP", "NEXT", "LAST RUN"];

pub fn schedules_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = v["schedules"].as_array().into_iter().flatten().map(schedule_row).collect();
    table(&SCHEDULE_HEADER, &rows)
}

/// One schedule: its row, then what the row leaves out (the payload each firing sends, the next
/// fire times), so a change can be confirmed.
pub fn schedule_table(v: &Value) -> String {
    let payload = match &v["payload"] {
        Value::Null => "-".to_owned(),
        p => p.to_string(),
    };
    let next: Vec<&str> = v["nextFireTimes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let next = if next.is_empty() { "-".to_owned() } else { next.join(", ") };
    format!("{}\npayload: {payload}\nnext fire times: {next}", table(&SCHEDULE_HEADER, &[schedule_row(v)]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let rows = vec![vec!["a".into(), "long value".into(), "x".into()], vec!["bbb".into(), "v".into(), "".into()]];
        assert_eq!(table(&["K", "V", "E"], &rows), "K    V           E\na    long value  x\nbbb  v");
    }

    #[test]
    fn tenants_in_a_table() {
        let t = json!({"tenant": "acme", "limits": {"maxRunning": 5, "maxStartsPerMinute": null, "weight": 1}, "usage": {"active": 5, "running": 4, "queued": 1, "waiting": 12, "startsThisMinute": 7}});
        assert_eq!(
            tenants_table(&[t]),
            "TENANT  MAX RUNNING  MAX STARTS/MIN  WEIGHT  SLOTS  RUNNING  WAITING  STARTS THIS MIN\n\
             acme    5            -               1       5      4        12       7"
        );
        let waiting = json!({"jobId": "j6", "status": "WAITING", "job": "noop", "attempts": 0, "tenant": "acme", "submittedBy": "local", "waitingFor": "the tenant runs 5 jobs, its maxRunning"});
        assert_eq!(
            job_line(&waiting),
            "j6  WAITING  noop  attempts 0  tenant acme  by local  waiting: the tenant runs 5 jobs, its maxRunning"
        );
    }

    #[test]
    fn answers_in_human_form() {
        let job = json!({"jobId": "j1", "status": "FAILED", "job": "fail", "attempts": 3, "tenant": "acme", "submittedBy": "local", "lastError": "boom", "createdAt": "2026-12-02T06:00:00Z"});
        assert_eq!(job_line(&job), "j1  FAILED  fail  attempts 3  tenant acme  by local  error: boom");
        assert_eq!(job_line(&json!({"jobId": "j2", "status": "QUEUED"})), "j2  QUEUED");
        let waiting = json!({"jobId": "j4", "status": "RETRY_WAIT", "job": "flaky", "attempts": 1, "tenant": "local", "submittedBy": "local", "lastError": "planned failure 1 of 2", "nextAttemptAt": "2026-12-02T06:00:05Z"});
        assert_eq!(
            job_line(&waiting),
            "j4  RETRY_WAIT  flaky  attempts 1  tenant local  by local  next attempt 2026-12-02T06:00:05Z  error: planned failure 1 of 2"
        );
        let high = json!({"jobId": "j5", "status": "QUEUED", "job": "sleep", "pool": "long", "priority": "high", "attempts": 0, "tenant": "local", "submittedBy": "local", "createdAt": "2026-12-02T06:00:01Z"});
        assert_eq!(job_line(&high), "j5  QUEUED  sleep  attempts 0  tenant local  by local  priority high");
        assert_eq!(
            jobs_table(&[
                {
                    let mut j = job.clone();
                    j["pool"] = json!("default");
                    j["priority"] = json!("normal");
                    j
                },
                high
            ]),
            "JOB  STATUS  KIND   POOL       ATTEMPTS  CREATED               TENANT  BY     NOTE\n\
             j1   FAILED  fail   default    3         2026-12-02T06:00:00Z  acme    local  error: boom\n\
             j5   QUEUED  sleep  long high  0         2026-12-02T06:00:01Z  local   local"
        );
        let pools = json!({"pools": [{"name": "short", "capacity": "spot", "cpu": {"request": "250m", "limit": "1"}, "memory": {"request": "128Mi", "limit": "256Mi"}, "timeLimitSecs": 300, "maxReplicas": 10, "execution": {"mode": "drain", "maxJobs": 1000, "maxMinutes": 10}, "waiting": 7, "running": 2, "high": {"waiting": 3, "running": 0, "delayed": 0}, "kinds": ["ping"]}]});
        assert_eq!(
            pools_table(&pools).lines().nth(1),
            Some(
                "short  spot      250m/1  128Mi/256Mi  300 s       10        drain ≤1000 jobs/10 min  7 (3 high)  2        ping"
            )
        );
        let stats = json!({"submitted": 3, "succeedJob": 2, "failedJob": 1, "jobRetry": 4, "cancelled": 0, "skipped": 0, "queued": 0, "inFlight": 0, "delayed": 1});
        assert_eq!(
            stats_line(&stats),
            "submitted 3  succeeded 2  failed 1  retries 4  cancelled 0  skipped 0  queued 0  in flight 0  delayed 1"
        );
        let s = json!({"name": "n", "state": "DISABLED", "expression": "cron(0 7 * * ? *)", "timezone": "UTC", "job": "noop", "payload": {"a": 1}, "tenant": "acme", "overlap": "forbid", "nextFireTimes": [], "lastRun": {"jobId": "j3", "status": "SUCCEEDED", "at": "2026-12-02T07:00:01Z"}});
        let high = json!({"name": "h", "state": "ENABLED", "expression": "rate(5 minutes)", "timezone": "UTC", "job": "ping", "priority": "high", "overlap": "allow", "nextFireTimes": []});
        assert_eq!(schedule_row(&high)[4], "ping high", "a high schedule says so");
        let lines: Vec<String> = schedule_table(&s).lines().map(str::to_owned).collect();
        assert_eq!(
            lines[1..],
            [
                "n         DISABLED  cron(0 7 * * ? *)  UTC       noop  acme    forbid   -     SUCCEEDED j3 at 2026-12-02T07:00:01Z",
                r#"payload: {"a":1}"#,
                "next fire times: -",
            ]
        );
    }
}
