//! `jobsctl ui`: the dashboard on localhost, in front of an API the browser cannot call itself
//! (in AWS every route needs a SigV4 signature), the way `kubectl proxy` fronts the Kubernetes API.
//! It serves the dashboard's embedded files and forwards the page's API calls, authorized as the
//! rest of jobsctl is (SigV4 from the credential chain, the bearer token, or nothing).
//!
//! Anything on this machine can reach a loopback port, and a web page can make the browser send
//! requests to one. So a call is forwarded only when it carries this session's random token
//! (`Authorization: Bearer`, which the page takes from the URL printed at start; a cross-site page
//! cannot set that header without a CORS preflight, which is never granted), names a loopback
//! `Host` (a DNS-rebinding page names its own) and is not cross-origin (`jobs_runtime::local_door`).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jobs_runtime::local_door;

use crate::client::Client;

/// The largest request body forwarded (the API's own limit).
const MAX_BODY: usize = 1024 * 1024;
/// Request headers passed on to the API (authorization is the proxy's own).
const FORWARDED: [&str; 3] = ["content-type", "accept", "idempotency-key"];

struct Proxy {
    client: Client,
    session: String,
}

/// Serves until `stop` completes. Prints the URL to open (with the session token) on stdout.
pub async fn run(
    client: Client,
    listen: SocketAddr,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let session = uuid::Uuid::new_v4().simple().to_string();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    // A closed stdout (`jobsctl ui | head -1`) must not stop the proxy.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "Dashboard: http://{addr}/?token={session}\nForwarding its API calls; Ctrl-C stops.");
    let _ = out.flush();
    axum::serve(listener, router(client, session)).with_graceful_shutdown(stop).await
}

/// The proxy's routes: the dashboard's files, and every other path forwarded.
pub fn router(client: Client, session: String) -> Router {
    dashboard::routes()
        .fallback(forward)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::new(Proxy { client, session }))
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name| headers.get(name).and_then(|h| h.to_str().ok());
    let door = local_door::Request {
        method: method.as_str(),
        host: text(header::HOST),
        origin: text(header::ORIGIN),
        sec_fetch_site: text(HeaderName::from_static("sec-fetch-site")),
    };
    if let Err(refusal) = local_door::check(&door, &[]) {
        return refuse(StatusCode::FORBIDDEN, refusal.code(), &refusal.to_string());
    }
    let bearer = text(header::AUTHORIZATION).and_then(|h| h.strip_prefix("Bearer "));
    if !bearer.is_some_and(|b| local_door::constant_time_eq(b.as_bytes(), proxy.session.as_bytes())) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "open the URL jobsctl ui printed (it carries the session token)",
        );
    }
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let pass: Vec<(&str, &str)> = FORWARDED
        .iter()
        .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()).map(|v| (*name, v)))
        .collect();
    match proxy.client.send(method, path, body.to_vec(), &pass).await {
        Ok(answer) => {
            let mut response = Response::new(Body::from(answer.body));
            *response.status_mut() = answer.status;
            if let Some(content_type) = answer.content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, content_type);
            }
            response
        }
        Err(e) => refuse(StatusCode::BAD_GATEWAY, "upstream_failed", &e.to_string()),
    }
}
