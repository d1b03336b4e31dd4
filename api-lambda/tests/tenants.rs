//! Tenants over HTTP against the emulator: whose job a job is, from the request or the caller;
//! kept by retries and schedules; listed by; refused when malformed without recording anything.

use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

fn ids(page: &Value) -> Vec<String> {
    page["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_its_tenants_from_the_request_the_caller_a_retry_or_its_schedule() {
    let stack = Stack::start().await;
    let api =
        Api::start(&stack, Path::new(env!("CARGO_BIN_EXE_api-lambda")), &[("API_TOKENS", "ci=tok-ci,saas=tok-saas")])
            .await;
    let as_ = |token: &str| format!("Bearer {token}");
    let (ci, saas) = (as_("tok-ci"), as_("tok-saas"));
    let call = |method: Method, path: String, body: Option<Value>, auth: String| {
        let api = &api;
        async move { api.call(method, &path, body.map(|b| b.to_string()), &[("Authorization", &auth)]).await }
    };
    let submit = |body: Value, auth: String| {
        let call = &call;
        async move {
            let (status, out) = call(Method::POST, "/jobs".into(), Some(body), auth).await;
            assert_eq!(status, StatusCode::OK, "{out}");
            out["jobId"].as_str().unwrap().to_owned()
        }
    };
    let job = |id: String| {
        let call = &call;
        let ci = ci.clone();
        async move { call(Method::GET, format!("/jobs/{id}"), None, ci).await.1 }
    };

    // Without a tenant, the caller's own (a local token's name); a SaaS backend names its customer's.
    let own = submit(json!({"job": "noop"}), ci.clone()).await;
    let acme = [
        submit(json!({"job": "noop", "tenant": "acme"}), saas.clone()).await,
        submit(json!({"job": "aggregate", "tenant": "acme"}), saas.clone()).await,
    ];
    let globex = submit(json!({"job": "noop", "tenant": "globex.eu-1"}), saas.clone()).await;
    for (id, tenant, by) in
        [(&own, "ci", "local:ci"), (&acme[0], "acme", "local:saas"), (&globex, "globex.eu-1", "local:saas")]
    {
        let view = job(id.clone()).await;
        assert_eq!((view["tenant"].as_str(), view["submittedBy"].as_str()), (Some(tenant), Some(by)), "{view}");
    }
    // The message carries it too: a worker knows whose job it runs before reading the item.
    // And its SQS message group is the tenant: in AWS, a fair queue's unit of fairness.
    let queued = stack.queued().await;
    let sent =
        |id: &str| queued.iter().find(|q| q.body["jobId"] == id).map(|q| (q.body["tenant"].clone(), q.group.clone()));
    for (id, tenant) in [(&own, "ci"), (&acme[0], "acme"), (&acme[1], "acme"), (&globex, "globex.eu-1")] {
        assert_eq!(sent(id), Some((json!(tenant), Some(tenant.to_owned()))), "{id}: {queued:?}");
    }

    // Listed by tenant, newest first; with another filter, checked on the items; paged.
    let list = |query: &str| call(Method::GET, format!("/jobs?{query}"), None, ci.clone());
    let (status, page) = list("tenant=acme").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(ids(&page), vec![acme[1].clone(), acme[0].clone()]);
    assert_eq!(ids(&list("tenant=acme&kind=noop").await.1), vec![acme[0].clone()]);
    assert_eq!(ids(&list("tenant=ci").await.1), vec![own.clone()]);
    assert!(ids(&list("tenant=nobody").await.1).is_empty());
    let first = list("tenant=acme&limit=1").await.1;
    let cursor = first["nextCursor"].as_str().expect("a second page").to_owned();
    assert_eq!(ids(&list(&format!("tenant=acme&limit=1&cursor={cursor}")).await.1), vec![acme[0].clone()]);
    let (status, err) = list(&format!("tenant=globex.eu-1&cursor={cursor}")).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")));

    // Malformed tenants: a 400 naming the field, and nothing recorded or sent.
    let (_, before) = call(Method::GET, "/jobs/stats".into(), None, ci.clone()).await;
    for bad in [json!(""), json!("a b"), json!("a/b"), json!("x".repeat(65)), json!(7), json!("ünï")] {
        let (status, err) =
            call(Method::POST, "/jobs".into(), Some(json!({"job": "noop", "tenant": bad})), ci.clone()).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_field")),
            "{bad}: {err}"
        );
        assert!(err["error"]["message"].as_str().unwrap().contains("tenant"), "{err}");
    }
    let (status, err) = list("tenant=a%20b").await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_filter")), "{err}");
    let (_, after) = call(Method::GET, "/jobs/stats".into(), None, ci.clone()).await;
    assert_eq!(before["submitted"], after["submitted"], "refused requests recorded nothing");
    assert_eq!(stack.queued().await.len(), 4, "and sent nothing");

    // An Idempotency-Key guards the tenant too: the same job, or a 409 for another tenant's.
    let keyed = |tenant: &'static str| {
        let api = &api;
        let saas = saas.clone();
        async move {
            let body = json!({"job": "noop", "tenant": tenant}).to_string();
            api.call(Method::POST, "/jobs", Some(body), &[("Authorization", &saas), ("Idempotency-Key", "k-1")]).await
        }
    };
    let (s1, first) = keyed("acme").await;
    let (s2, again) = keyed("acme").await;
    assert_eq!((s1, s2, &first["jobId"]), (StatusCode::OK, StatusCode::OK, &again["jobId"]));
    let (status, err) = keyed("globex").await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_key_reused")),
        "{err}"
    );

    // A retry keeps the old job's tenant, whoever asks; or takes the one it names.
    for id in [&acme[0], &globex] {
        let (status, _) = call(Method::POST, format!("/jobs/{id}/cancel"), None, ci.clone()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, kept) = call(Method::POST, format!("/jobs/{}/retry", acme[0]), None, ci.clone()).await;
    let kept = job(kept["jobId"].as_str().unwrap().to_owned()).await;
    assert_eq!((kept["tenant"].as_str(), kept["submittedBy"].as_str()), (Some("acme"), Some("local:ci")), "{kept}");
    let (_, moved) =
        call(Method::POST, format!("/jobs/{globex}/retry"), Some(json!({"tenant": "initech"})), ci.clone()).await;
    assert_eq!(job(moved["jobId"].as_str().unwrap().to_owned()).await["tenant"], "initech");
    let (status, err) =
        call(Method::POST, format!("/jobs/{globex}/retry"), Some(json!({"tenant": "a b"})), ci.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");

    // A schedule's firings are its tenant's: the caller's by default, or the one it names; a
    // change may move them; the template each firing sends carries it.
    let (status, mine) =
        call(Method::POST, "/jobs/schedules".into(), Some(json!({"cron": "0 3 * * *", "job": "noop"})), ci.clone())
            .await;
    assert_eq!((status, mine["tenant"].as_str()), (StatusCode::OK, Some("ci")), "{mine}");
    let body = json!({"cron": "0 3 * * *", "job": "noop", "name": "acme-nightly", "tenant": "acme"});
    let (status, theirs) = call(Method::POST, "/jobs/schedules".into(), Some(body), saas.clone()).await;
    assert_eq!((status, theirs["tenant"].as_str()), (StatusCode::OK, Some("acme")), "{theirs}");
    let template = stack.schedule_input("acme-nightly").await;
    assert_eq!(serde_json::from_str::<Value>(&template).unwrap()["tenant"], "acme", "{template}");
    let patch = Some(json!({"tenant": "globex"}));
    let (status, changed) = call(Method::PATCH, "/jobs/schedules/acme-nightly".into(), patch, saas.clone()).await;
    assert_eq!((status, changed["tenant"].as_str()), (StatusCode::OK, Some("globex")), "{changed}");
    let (status, listed) = call(Method::GET, "/jobs/schedules".into(), None, ci.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["schedules"].as_array().unwrap().iter().find(|s| s["name"] == "acme-nightly").cloned();
    assert_eq!(listed.map(|s| s["tenant"].clone()), Some(json!("globex")));
    let (status, _) =
        call(Method::PATCH, "/jobs/schedules/acme-nightly".into(), Some(json!({"tenant": "a b"})), saas.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A job recorded before tenants (no attribute): its tenant follows from its submitter.
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .update_item()
        .table_name(&stack.resources.table)
        .key("pk", AttributeValue::S(format!("JOB#{own}")))
        .update_expression("REMOVE tenant")
        .send()
        .await
        .unwrap();
    assert_eq!(job(own.clone()).await["tenant"], "ci");
}
