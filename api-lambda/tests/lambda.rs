//! The router under lambda_http: API Gateway HTTP API (payload 2.0, `$default` stage) events are
//! decoded and the responses encoded exactly as `lambda_http::run` does in AWS.

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{Value, json};
use testkit::Stack;

fn event(method: &str, path: &str, body: Option<&str>) -> LambdaRequest {
    iam_event(method, path, "", body, None)
}

/// An event as API Gateway sends it for a route with IAM authorization: the SigV4 signer's
/// identity in `requestContext.authorizer.iam` (`None`: no authorizer, as before).
fn iam_event(method: &str, path: &str, query: &str, body: Option<&str>, user_arn: Option<&str>) -> LambdaRequest {
    use base64::Engine as _;
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
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
    if let Some(arn) = user_arn {
        event["requestContext"]["authorizer"] = json!({"iam": {
            "accessKey": "ASIAEXAMPLE", "accountId": "123456789012", "callerId": "AROAEXAMPLE:session",
            "cognitoIdentity": null, "principalOrgId": "o-example", "userArn": arn, "userId": "AROAEXAMPLE:session",
        }});
    }
    if !query.is_empty() {
        let pairs: serde_json::Map<String, Value> =
            query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect();
        event["queryStringParameters"] = Value::Object(pairs);
    }
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
        allowed_hosts: Vec::new(),
        local_logs_dir: None,
        api_token: None,
        api_tokens: None,
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

    // Who submitted: the IAM principal API Gateway authorized, shown and filterable.
    let alice = "arn:aws:iam::123456789012:user/alice";
    let role = "arn:aws:sts::123456789012:assumed-role/deployer/ci";
    let mut by_alice = Vec::new();
    for (who, kind) in [(alice, "noop"), (role, "noop"), (alice, "aggregate")] {
        let body = format!(r#"{{"job":"{kind}"}}"#);
        let (status, created) = invoke(&app, iam_event("POST", "/jobs", "", Some(&body), Some(who))).await;
        assert_eq!(status, 200, "{created}");
        let id = created["jobId"].as_str().unwrap().to_owned();
        let (_, job) = invoke(&app, iam_event("GET", &format!("/jobs/{id}"), "", None, Some(role))).await;
        assert_eq!(job["submittedBy"], who, "recorded from the request context, not from the reader");
        if who == alice {
            by_alice.insert(0, id);
        }
    }
    let query = format!("submittedBy={}", alice.replace(':', "%3A").replace('/', "%2F"));
    let (status, page) = invoke(&app, iam_event("GET", "/jobs", &query, None, Some(role))).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap()).collect();
    assert_eq!(ids, by_alice, "alice's jobs, newest first");
    // No authorizer at all (the route's IAM authorization turned off): anonymous, never `local`.
    let (_, created) = invoke(&app, event("POST", "/jobs", Some(r#"{"job":"noop"}"#))).await;
    let (_, job) = invoke(&app, event("GET", &format!("/jobs/{}", created["jobId"].as_str().unwrap()), None)).await;
    assert_eq!(job["submittedBy"], "anonymous");

    // In AWS the API_TOKEN is unset and IAM authorizes; a token, if set, still applies.
    config.api_token = Some("t".into());
    let guarded = api_lambda::router(api_lambda::state(&config, &stack.sdk).await.unwrap());
    let (status, _) = invoke(&guarded, event("GET", "/jobs/stats", None)).await;
    assert_eq!(status, 401);
}
