//! The router under lambda_http: API Gateway HTTP API (payload 2.0, `$default` stage) events are
//! decoded and the responses encoded exactly as `lambda_http::run` does in AWS.

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};
use testkit::Stack;

fn event(method: &str, path: &str, body: Option<&str>) -> LambdaRequest {
    use base64::Engine as _;
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "21/Nov/2026:10:00:00 +0000", "timeEpoch": 1_795_000_000_000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"}
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": body.is_some(),
    });
    serde_json::from_value(event).expect("an API Gateway v2 event")
}

async fn invoke(app: &axum::Router, request: LambdaRequest) -> (u16, Value) {
    let mut adapter = Adapter::from(app.clone());
    let response = adapter.call(LambdaEvent::new(request, Context::default())).await.expect("handler");
    let encoded = serde_json::to_value(response).unwrap();
    let status = encoded["statusCode"].as_u64().unwrap() as u16;
    let body = encoded["body"].as_str().map(|b| serde_json::from_str(b).unwrap()).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_events_reach_the_router() {
    let stack = Stack::start().await;
    let mut config = api_lambda::config::Config {
        queue_url: stack.resources.queue_url.clone(),
        queue_arn: None,
        table_name: stack.resources.table.clone(),
        schedule_group: stack.resources.schedule_group.clone(),
        scheduler_role_arn: testkit::SCHEDULER_ROLE_ARN.into(),
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        api_token: None,
        send_grace_secs: 60,
        stale_after_secs: 900,
    };
    let app = api_lambda::router(api_lambda::state(&config, &stack.sdk).await.unwrap());

    let (status, created) = invoke(&app, event("POST", "/jobs", Some(r#"{"job":"sleep","payload":{"ms":1}}"#))).await;
    assert_eq!(status, 200, "{created}");
    let id = created["jobId"].as_str().unwrap();
    let (status, job) = invoke(&app, event("GET", &format!("/jobs/{id}"), None)).await;
    assert_eq!((status, job["status"].as_str(), job["job"].as_str()), (200, Some("QUEUED"), Some("sleep")));

    let (status, stats) = invoke(&app, event("GET", "/jobs/stats", None)).await;
    assert_eq!((status, stats["submitted"].as_u64()), (200, Some(1)));

    let (status, err) = invoke(&app, event("POST", "/jobs", Some(r#"{"job":"teleport"}"#))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("unknown_kind")));
    let (status, err) = invoke(&app, event("PATCH", "/jobs", None)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    let (status, _) = invoke(&app, event("GET", "/prod/jobs/stats", None)).await;
    assert_eq!(status, 404, "only the $default stage serves unprefixed paths");

    // In AWS the API_TOKEN is unset and IAM authorizes; a token, if set, still applies.
    config.api_token = Some("t".into());
    let guarded = api_lambda::router(api_lambda::state(&config, &stack.sdk).await.unwrap());
    let (status, _) = invoke(&guarded, event("GET", "/jobs/stats", None)).await;
    assert_eq!(status, 401);
}
