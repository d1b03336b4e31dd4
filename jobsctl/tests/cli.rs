//! jobsctl against the real API binary and worker on an emulator: the post-deploy check passes
//! only when a worker runs the job, and every way it can go wrong has its own exit code. SigV4 is
//! checked on the wire against a listener that records the request.

use std::process::Stdio;

use serde_json::Value;
use testkit::{Api, Stack, workspace_binary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn jobsctl(api: &str, env: &[(&str, &str)], args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_jobsctl"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("JOBS_API_URL", api)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run jobsctl");
    let out = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("jobsctl {args:?} -> {}\n{}{}", out.code, out.stdout, out.stderr);
    out
}

/// A listener that answers one request with `body` (JSON, 200) and returns that request as it came
/// on the wire, lowercased: to check what jobsctl sends.
async fn record_one_request(body: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let n = conn.read(&mut buf).await.unwrap();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).to_lowercase()
    });
    (url, server)
}

/// The worker binary, once, with a long poll so it takes the message the check submits.
fn worker(stack: &Stack) -> tokio::process::Child {
    worker_with(stack, &[])
}

fn worker_with(stack: &Stack, env: &[(&str, &str)]) -> tokio::process::Child {
    Command::new(workspace_binary("data-processor"))
        .env_clear()
        .envs(stack.worker_env())
        .env("WAIT_TIME_SECS", "20")
        .envs(env.iter().copied())
        .env("LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn worker")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_check_passes_when_a_worker_runs_its_job() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, &workspace_binary("api-lambda"), &[("API_TOKENS", "pipeline=tok-1")]).await;
    let token = [("JOBS_API_TOKEN", "tok-1")];
    let mut worker = worker(&stack);
    let out = jobsctl(&api.base, &token, &["--json", "check", "--timeout", "60"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(report["passed"], true);
    assert!(report["stats"]["succeedJob"].as_u64().unwrap() >= 1);
    let id = report["jobId"].as_str().unwrap();
    let job = stack.store.get(id).await.unwrap().expect("the check's job is recorded");
    assert_eq!((job.kind(), job.submitted_by.as_deref()), (Some("noop"), Some("local:pipeline")));
    assert!(out.stderr.contains("submitted noop job"), "progress on stderr: {}", out.stderr);
    assert_eq!(worker.wait().await.unwrap().code(), Some(0));

    // The human form of the same answers.
    let stats = jobsctl(&api.base, &token, &["stats"]).await;
    assert_eq!(stats.code, 0);
    assert!(stats.stdout.starts_with("submitted 1  succeeded 1  failed 0"), "{}", stats.stdout);
    let get = jobsctl(&api.base, &token, &["get", id]).await;
    assert_eq!(get.stdout.trim(), format!("{id}  SUCCEEDED  noop  attempts 1  tenant pipeline  by local:pipeline"));
}

/// An operator's session: kinds, watch (exit 1 when a job did not succeed), list with a filter,
/// cancel, retry, get, watch timing out, and a schedule created, paused, resumed and deleted.
#[tokio::test(flavor = "multi_thread")]
async fn an_operator_lists_cancels_retries_watches_and_schedules() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, &workspace_binary("api-lambda"), &[("API_TOKEN", "t")]).await;
    let ctl = |args: &'static [&'static str]| jobsctl(&api.base, &[("JOBS_API_TOKEN", "t")], args);
    let id_of = |out: &Out| {
        let v: Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
        v["jobId"].as_str().expect("a job id").to_owned()
    };
    let run = |args: Vec<String>| {
        let api = api.base.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            jobsctl(&api, &[("JOBS_API_TOKEN", "t")], &args).await
        }
    };

    let kinds = ctl(&["kinds"]).await;
    assert_eq!(kinds.code, 0);
    assert!(kinds.stdout.starts_with("KIND  ") && kinds.stdout.contains("\nnoop "), "{}", kinds.stdout);
    // A command kind has a start deadline (60 min by default), a Rust kind of a pool without one none.
    let line =
        |kind: &str| kinds.stdout.lines().find(|l| l.starts_with(&format!("{kind} "))).unwrap_or_default().to_owned();
    assert!(line("report").contains(" 60 min "), "{}", kinds.stdout);
    assert!(!line("noop").contains(" min "), "{}", kinds.stdout);

    let done = id_of(&ctl(&["--json", "submit", "noop"]).await);
    assert_eq!(worker(&stack).wait().await.unwrap().code(), Some(0));
    let cancelled = id_of(&ctl(&["--json", "submit", "noop"]).await);
    let out = run(vec!["cancel".into(), cancelled.clone()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with(&format!("{cancelled}  CANCELLED")), "{}", out.stdout);

    // One of the two did not succeed: exit 1, both in the table, the progress on stderr.
    let out = run(vec!["watch".into(), done.clone(), cancelled.clone()]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("2/2 ended · 1 CANCELLED · 1 SUCCEEDED"), "{}", out.stderr);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    assert!(rows[0].starts_with("JOB") && rows[1].starts_with(&done) && rows[2].starts_with(&cancelled));

    let out = ctl(&["list", "--status", "CANCELLED"]).await;
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains(&cancelled) && !out.stdout.contains(&done), "{}", out.stdout);

    let retry = id_of(&run(vec!["--json".into(), "retry".into(), cancelled.clone()]).await);
    // The cancelled job's message is still queued (a worker deletes it): take both.
    let drain = [("DRAIN", "true"), ("WAIT_TIME_SECS", "2")];
    assert_eq!(worker_with(&stack, &drain).wait().await.unwrap().code(), Some(0));
    let out = run(vec!["watch".into(), retry.clone()]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let job: Value =
        serde_json::from_str(run(vec!["--json".into(), "get".into(), retry.clone()]).await.stdout.trim()).unwrap();
    assert_eq!((job["status"].as_str(), job["retryOf"].as_str()), (Some("SUCCEEDED"), Some(cancelled.as_str())));
    let out = run(vec!["retry".into(), done.clone()]).await;
    assert_eq!(out.code, 4, "only FAILED or CANCELLED jobs are retried: {}", out.stderr);

    // No worker: the job stays queued past the timeout.
    let queued = id_of(&ctl(&["--json", "submit", "noop"]).await);
    let out = run(vec!["watch".into(), "--timeout".into(), "1".into(), queued]).await;
    assert_eq!(out.code, 5, "{}", out.stderr);

    let out = ctl(&["schedule", "create", "--cron", "0 7 * * *", "--name", "nightly", "--kind", "noop"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.lines().nth(1).is_some_and(|l| l.starts_with("nightly   ENABLED")), "{}", out.stdout);
    let out = ctl(&["schedule", "pause", "nightly"]).await;
    assert!(out.stdout.lines().nth(1).is_some_and(|l| l.starts_with("nightly   DISABLED")), "{}", out.stdout);
    // The human form shows what the table leaves out: the payload each firing sends.
    let out = ctl(&["schedule", "update", "nightly", "--payload", "{}", "--overlap", "forbid"]).await;
    assert!(out.stdout.contains("payload: {}") && out.stdout.contains("forbid"), "{}", out.stdout);
    let out =
        ctl(&["--json", "schedule", "update", "nightly", "--cron", "30 6 * * FRI", "--timezone", "Europe/Berlin"])
            .await;
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!((v["timezone"].as_str(), v["state"].as_str()), (Some("Europe/Berlin"), Some("DISABLED")), "{v}");
    assert!(v["expression"].as_str().unwrap().contains("FRI"), "{v}");
    assert_eq!(ctl(&["schedule", "update", "nightly"]).await.code, 2, "nothing to change");
    let out = ctl(&["--json", "schedule", "resume", "nightly"]).await;
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!((v["state"].as_str(), v["nextFireTimes"].as_array().map(Vec::len)), (Some("ENABLED"), Some(5)));
    let out = ctl(&["schedule", "list"]).await;
    assert!(out.stdout.contains("nightly"), "{}", out.stdout);
    assert_eq!(ctl(&["schedule", "delete", "nightly"]).await.code, 0);
    assert_eq!(ctl(&["schedule", "get", "nightly"]).await.code, 4);
    assert_eq!(ctl(&["schedule", "create", "--cron", "0 7 * * *", "--payload", "{"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_has_its_exit_code() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, &workspace_binary("api-lambda"), &[]).await;

    // No worker: the job never ends within the timeout.
    let out = jobsctl(&api.base, &[], &["check", "--timeout", "3"]).await;
    assert_eq!(out.code, 5, "timeout");
    assert!(out.stderr.contains("has not ended") && out.stderr.contains("QUEUED"), "{}", out.stderr);

    // The job ends, but FAILED (after draining what the check left on the queue).
    let mut w = worker(&stack);
    w.wait().await.unwrap();
    let mut w = worker(&stack);
    let out =
        jobsctl(&api.base, &[], &["submit", "fail", "--payload", r#"{"permanent":true}"#, "--wait", "--timeout", "60"])
            .await;
    w.wait().await.unwrap();
    assert_eq!(out.code, 1, "the job ended FAILED");
    assert!(out.stderr.contains("ended FAILED: job failed on purpose"), "{}", out.stderr);

    // The API refuses: an unknown kind, a payload that is not JSON, a missing job.
    let out = jobsctl(&api.base, &[], &["submit", "teleport"]).await;
    assert_eq!(out.code, 4);
    assert!(out.stderr.contains("400 unknown_kind"), "{}", out.stderr);
    assert_eq!(jobsctl(&api.base, &[], &["submit", "noop", "--payload", "{"]).await.code, 2);
    let out = jobsctl(&api.base, &[], &["get", "no-such-job"]).await;
    assert_eq!(out.code, 4);
    assert!(out.stderr.contains("404 not_found"), "{}", out.stderr);
    // With --json a script reads the failure on stdout too: the API's error, with its status.
    let out = jobsctl(&api.base, &[], &["--json", "get", "no-such-job"]).await;
    let err: Value = serde_json::from_str(out.stdout.trim()).expect("the error as JSON on stdout");
    assert_eq!((out.code, err["status"].as_u64(), err["error"]["code"].as_str()), (4, Some(404), Some("not_found")));
    let out = jobsctl(&api.base, &[], &["--json", "submit", "noop", "--payload", "{"]).await;
    let err: Value = serde_json::from_str(out.stdout.trim()).expect("a usage error as JSON");
    assert_eq!((out.code, err["error"]["code"].as_str()), (2, Some("usage")));

    // Nothing listens: the backend failed.
    let closed = format!("http://127.0.0.1:{}", testkit::free_port());
    let out = jobsctl(&closed, &[], &["stats"]).await;
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("cannot reach"), "{}", out.stderr);

    // SigV4 without a region to sign for is a configuration error.
    assert_eq!(jobsctl(&api.base, &[], &["--sigv4", "stats"]).await.code, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigv4_requests_carry_the_execute_api_signature_from_the_credential_chain() {
    let (url, server) = record_one_request(r#"{"submitted":0,"succeedJob":0,"failedJob":0}"#).await;
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "session-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let out = jobsctl(&url, &creds, &["--sigv4", "--region", "eu-west-1", "stats"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let request = server.await.unwrap();
    assert!(request.starts_with("get /jobs/stats http/1.1"), "{request}");
    assert!(
        request.contains("authorization: aws4-hmac-sha256 credential=akidexample/")
            && request.contains("/eu-west-1/execute-api/aws4_request"),
        "{request}"
    );
    assert!(request.contains("x-amz-security-token: session-1"), "{request}");
    assert!(request.contains("x-amz-date: "), "{request}");
}

/// `jobsctl ui`, started as an operator would: the URL it prints, and a client of its port.
struct Ui {
    child: tokio::process::Child,
    /// Its stdout, kept open.
    _out: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Ui {
    async fn start(api: &str, env: &[(&str, &str)], args: &[&str]) -> Ui {
        use tokio::io::AsyncBufReadExt;
        let mut child = Command::new(env!("CARGO_BIN_EXE_jobsctl"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("JOBS_API_URL", api)
            .envs(env.iter().copied())
            .args(args)
            .args(["ui", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn jobsctl ui");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await.unwrap().expect("jobsctl ui prints its URL");
        let url = first.strip_prefix("Dashboard: ").expect(&first).to_owned();
        let (base, session) = url.split_once("/?token=").expect(&url);
        let (base, session) = (base.to_owned(), session.to_owned());
        Ui { child, _out: lines, base, session, http: reqwest::Client::new() }
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn session(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        r.bearer_auth(&self.session)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_serves_the_dashboard_and_forwards_only_this_sessions_calls() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, &workspace_binary("api-lambda"), &[("API_TOKEN", "upstream-secret")]).await;
    let ui = Ui::start(&api.base, &[], &["--token", "upstream-secret"]).await;

    let page = ui.get("/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/ui/app.js"));
    assert_eq!(ui.get("/ui/app.js").send().await.unwrap().status(), 200);

    // Without the session token, or under another host name (DNS rebinding), nothing is forwarded.
    let bare = ui.get("/jobs/stats").send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let wrong = ui.get("/jobs/stats").bearer_auth("upstream-secret").send().await.unwrap();
    assert_eq!(wrong.status(), 401, "the API's own token is not the session's");
    let rebound = ui.session(ui.get("/jobs/stats")).header("host", "evil.example:8001").send().await.unwrap();
    assert_eq!(rebound.status(), 403);

    // With it, calls reach the API with the API's token, queries and bodies intact.
    let stats: Value = ui.session(ui.get("/jobs/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["submitted"], 0, "{stats}");
    let post = ui
        .session(ui.http.post(format!("{}/jobs", ui.base)))
        .header("idempotency-key", "ui-1")
        .json(&serde_json::json!({"job": "noop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let accepted: Value = post.json().await.unwrap();
    let path = format!("/jobs/{}", accepted["jobId"].as_str().unwrap());
    let (status, job) =
        api.call(reqwest::Method::GET, &path, None, &[("Authorization", "Bearer upstream-secret")]).await;
    assert_eq!((status.as_u16(), job["status"].as_str()), (200, Some("QUEUED")), "{job}");
    let replay: Value = ui
        .session(ui.http.post(format!("{}/jobs", ui.base)))
        .header("idempotency-key", "ui-1")
        .json(&serde_json::json!({"job": "noop"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replay["jobId"], accepted["jobId"], "the Idempotency-Key is passed on");
    let minutes: Value = ui.session(ui.get("/jobs/throughput?minutes=2")).send().await.unwrap().json().await.unwrap();
    assert_eq!(minutes["minutes"].as_array().map(Vec::len), Some(2), "{minutes}");
    // The API's refusals come back as they are.
    let bad = ui.session(ui.get("/jobs?status=NOPE")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["code"], "invalid_filter");
    drop(ui.child);
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_signs_what_it_forwards_with_sigv4_and_never_passes_the_session_token() {
    let (url, server) = record_one_request(r#"{"minutes":[]}"#).await;
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let ui = Ui::start(&url, &creds, &["--sigv4", "--region", "eu-west-1"]).await;
    let answer = ui.session(ui.get("/jobs/throughput?minutes=2")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let request = server.await.unwrap();
    assert!(request.starts_with("get /jobs/throughput?minutes=2 http/1.1"), "{request}");
    assert!(
        request.contains("authorization: aws4-hmac-sha256 credential=akidexample/")
            && request.contains("/eu-west-1/execute-api/aws4_request"),
        "{request}"
    );
    assert!(!request.contains(&ui.session), "the session token stays between the browser and jobsctl");
}

/// Issue 25, point 1: the `more:` hint of `jobsctl list` is the next page's command with the
/// same filters and limit; followed to the last page it lists every matching job once, and no
/// other.
#[tokio::test(flavor = "multi_thread")]
async fn following_the_more_hint_pages_through_the_filtered_list() {
    let stack = Stack::start().await;
    let api = Api::start(&stack, &workspace_binary("api-lambda"), &[]).await;
    let mut want = Vec::new();
    for _ in 0..5 {
        let out = jobsctl(&api.base, &[], &["--json", "submit", "noop"]).await;
        let v: Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
        want.push(v["jobId"].as_str().expect("a job id").to_owned());
    }
    // Another kind, which the filter leaves out.
    assert_eq!(jobsctl(&api.base, &[], &["submit", "sleep", "--payload", r#"{"ms":1}"#]).await.code, 0);

    let mut args: Vec<String> =
        ["list", "--status", "QUEUED", "--kind", "noop", "--limit", "2"].map(String::from).into();
    let mut seen = Vec::new();
    for page in 0.. {
        assert!(page < 5, "the hints never reached the last page");
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = jobsctl(&api.base, &[], &argv).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        seen.extend(out.stdout.lines().skip(1).filter_map(|l| l.split_whitespace().next()).map(str::to_owned));
        let Some(hint) = out.stderr.lines().find_map(|l| l.strip_prefix("more: jobsctl ")) else { break };
        assert!(hint.contains("--kind noop") && hint.contains("--limit 2"), "{hint}");
        // The values here need no quoting: split as a shell would.
        args = hint.split_whitespace().map(String::from).collect();
    }
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "every queued noop job once, nothing else");
}
