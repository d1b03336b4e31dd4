//! A counting reverse proxy in front of the emulator: every binary under test points its
//! `AWS_ENDPOINT_URL` here, so the bench sees each billable AWS request exactly as sent (service,
//! operation, JSON body, time) without instrumenting the code under test.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One AWS request.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub service: String,
    pub operation: String,
    pub body: Value,
    /// The HTTP status of the answer (a failed condition is a 400 and still costs its write).
    pub status: u16,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

#[derive(Clone)]
pub struct Proxy {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            calls: calls.clone(),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy { endpoint, calls }
    }

    /// The calls since the last `take` (and forgets them).
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// Service and operation of a request: the JSON protocols name it in `X-Amz-Target`
/// (`DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`); the Scheduler is REST.
pub fn classify(method: &Method, uri: &Uri, headers: &HeaderMap) -> (String, String) {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        let (prefix, op) = target.split_once('.').unwrap_or(("?", target));
        let service = if prefix.starts_with("DynamoDB") {
            "DynamoDB"
        } else if prefix.starts_with("AmazonSQS") {
            "SQS"
        } else {
            prefix
        };
        return (service.to_owned(), op.to_owned());
    }
    let path = uri.path();
    if path.starts_with("/schedules") || path.starts_with("/schedule-groups") {
        let op = match (method.as_str(), path.starts_with("/schedule-groups")) {
            ("GET", false) if path == "/schedules" => "ListSchedules",
            ("GET", false) => "GetSchedule",
            ("POST", false) => "CreateSchedule",
            ("PUT", false) => "UpdateSchedule",
            ("DELETE", false) => "DeleteSchedule",
            (_, true) => "ScheduleGroup",
            _ => "Other",
        };
        return ("Scheduler".into(), op.into());
    }
    // SQS's query protocol (older SDKs): Action=… in the form body.
    ("Other".into(), format!("{method} {path}"))
}

async fn forward(State(s): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (service, operation) = classify(&method, &uri, &headers);
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let at = Instant::now();
    let url = format!("{}{}", s.upstream, uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut request = s.http.request(method, url).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            s.calls.lock().unwrap().push(Call { at, service, operation, body: json, status: status.as_u16() });
            let headers = answer.headers().clone();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = (status, bytes).into_response();
            for (name, value) in &headers {
                if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(e) => {
            s.calls.lock().unwrap().push(Call { at, service, operation, body: json, status: 502 });
            (StatusCode::BAD_GATEWAY, e.to_string()).into_response()
        }
    }
}
