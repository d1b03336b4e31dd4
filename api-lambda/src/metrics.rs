//! Request counts and latencies by route, and the jobs accepted by tenant and kind, at `GET /metrics` in the Prometheus (OpenMetrics) text
//! format: what a Prometheus next to the local API scrapes. Under Lambda each instance counts only
//! the requests it served, since its start; API Gateway's CloudWatch metrics (`Count`, `4xx`,
//! `5xx`, `Latency`) are the fleet's figures there, so the stack does not route `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched: one series for all of them, whatever the path.
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's template (`/jobs/{id}`), never the path: one series per route.
    route: String,
    status: u16,
}

/// A new job's labels: its tenant as the config labels it (`jobs_core::tenants`: a named tenant,
/// or `(other)`, so at most 101 values) and its kind (the config's).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    tenant: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// The API's request metrics; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    accepted: Family<JobLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // 1 ms to about 16 s: the API's calls time out at 4 s, Lambda at 15 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.001, 2.0, 15))) as fn() -> Histogram,
        );
        registry.register("api_http_requests", "Requests answered, by route and status", requests.clone());
        registry.register("api_http_request_duration_seconds", "Time to answer a request, by route", latency.clone());
        let accepted = Family::<JobLabels, Counter>::default();
        registry.register(
            "api_jobs_accepted",
            "New jobs accepted (submitted or retried; not replays), by tenant and kind",
            accepted.clone(),
        );
        Metrics(Arc::new(Inner { registry, requests, latency, accepted }))
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.0.latency.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(seconds);
        self.0.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    /// Counts one new job of `tenant` (labelled as the config says) and `kind`.
    pub fn accepted(&self, tenant: &jobs_core::Tenant, kind: &str) {
        let tenant = jobs_core::tenants::config().metric_label(tenant).to_owned();
        self.0.accepted.get_or_create(&JobLabels { tenant, kind: kind.to_owned() }).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.0.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Middleware: times every request and counts its answer under its route's template.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, |p| p.as_str()).to_owned();
    let response = next.run(request).await;
    metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn scrape(State(metrics): State<Metrics>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn counts_by_route_template_and_status_and_buckets_latencies() {
        let m = Metrics::default();
        m.observe("GET", "/jobs/{id}", 200, 0.003);
        m.observe("GET", "/jobs/{id}", 200, 0.020);
        m.observe("GET", "/jobs/{id}", 404, 0.002);
        m.observe("POST", "/jobs", 503, 4.5);
        let text = m.render();
        let cases = [
            (r#"api_http_requests_total{method="GET",route="/jobs/{id}",status="200"}"#, 2.0),
            (r#"api_http_requests_total{method="GET",route="/jobs/{id}",status="404"}"#, 1.0),
            (r#"api_http_requests_total{method="POST",route="/jobs",status="503"}"#, 1.0),
            (r#"api_http_request_duration_seconds_count{method="GET",route="/jobs/{id}"}"#, 3.0),
            (r#"api_http_request_duration_seconds_bucket{le="0.004",method="GET",route="/jobs/{id}"}"#, 2.0),
            (r#"api_http_request_duration_seconds_bucket{le="0.032",method="GET",route="/jobs/{id}"}"#, 3.0),
            (r#"api_http_request_duration_seconds_bucket{le="4.096",method="POST",route="/jobs"}"#, 0.0),
            (r#"api_http_request_duration_seconds_bucket{le="8.192",method="POST",route="/jobs"}"#, 1.0),
        ];
        for (series, want) in cases {
            assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
        }
        assert!(text.contains("# TYPE api_http_request_duration_seconds histogram"), "{text}");
        // New jobs by tenant: a tenant the config names is its own label, any other (other).
        let acme = jobs_core::Tenant::parse("acme").unwrap();
        assert_eq!(jobs_core::tenants::config().metric_label(&acme), "acme", "infra-cdk8s/config.json names acme");
        for t in ["acme", "acme", "globex", "initech"] {
            m.accepted(&jobs_core::Tenant::parse(t).unwrap(), "noop");
        }
        let text = m.render();
        assert_eq!(sample(&text, r#"api_jobs_accepted_total{tenant="acme",kind="noop"}"#), Some(2.0), "{text}");
        assert_eq!(sample(&text, r#"api_jobs_accepted_total{tenant="(other)",kind="noop"}"#), Some(2.0), "{text}");
        assert!(!text.contains("globex"), "{text}");
    }
}
