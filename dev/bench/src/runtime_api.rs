//! A minimal AWS Lambda Runtime API (2018-06-01) on a free port: the endpoints a custom runtime
//! (`lambda_runtime`, or the Python loop in `dev/bench/python/bootstrap.py`) calls. It hands out the
//! events queued with [`RuntimeApi::invoke`] one `next` at a time and records each answer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot};

#[derive(Default)]
struct Shared {
    /// When the runtime first asked for an event: the end of its init phase.
    first_next: Mutex<Option<Instant>>,
    events: Mutex<VecDeque<(String, String)>>,
    ready: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

/// What the runtime posted for one event.
#[derive(Debug, Clone)]
pub struct Answer {
    pub at: Instant,
    pub ok: bool,
    pub body: String,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: String,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the runtime API");
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        RuntimeApi { addr, shared }
    }

    /// When the runtime finished its init phase (its first `next`).
    pub fn init_done(&self) -> Option<Instant> {
        *self.shared.first_next.lock().unwrap()
    }

    /// Queues `event` and waits (up to `timeout`) for the runtime's answer to it.
    pub async fn invoke(&self, event: String, timeout: Duration) -> Result<Answer, String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.shared.events.lock().unwrap().push_back((id.clone(), event));
        self.shared.ready.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(format!("invocation {id}: no answer")),
            Err(_) => Err(format!("invocation {id}: no answer within {timeout:?}")),
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.first_next.lock().unwrap().get_or_insert_with(Instant::now);
    loop {
        let notified = shared.ready.notified();
        if let Some((id, body)) = shared.events.lock().unwrap().pop_front() {
            let mut headers = HeaderMap::new();
            let deadline = (chrono::Utc::now() + chrono::Duration::seconds(15)).timestamp_millis();
            headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).unwrap());
            headers.insert("lambda-runtime-deadline-ms", HeaderValue::from_str(&deadline.to_string()).unwrap());
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:bench"),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
            );
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            return (StatusCode::OK, headers, body);
        }
        notified.await;
    }
}

fn answer(shared: &Shared, id: &str, ok: bool, body: Bytes) -> StatusCode {
    let at = Instant::now();
    if let Some(tx) = shared.waiting.lock().unwrap().remove(id) {
        let _ = tx.send(Answer { at, ok, body: String::from_utf8_lossy(&body).into_owned() });
    }
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, true, body)
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    answer(&shared, &id, false, body)
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("bench: the runtime failed to initialize: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0, `$default` stage) event, as `lambda_http` reads it.
pub fn http_event(method: &str, path: &str, body: Option<&str>) -> String {
    use base64::Engine as _;
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "bench", "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench", "requestId": "bench", "routeKey": "$default", "stage": "$default",
            "time": "02/Dec/2026:00:00:00 +0000", "timeEpoch": 1_796_169_600_000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "bench"},
            "authorizer": {"iam": {"accessKey": "AKIDBENCH", "accountId": "000000000000", "callerId": "AIDABENCH",
                "principalOrgId": null, "userArn": "arn:aws:iam::000000000000:user/bench", "userId": "AIDABENCH"}}
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": body.is_some(),
    })
    .to_string()
}
