//! The job API over HTTP: one request method that authorizes (see [`crate::auth`]) and turns the
//! API's JSON errors into [`ClientError`], and the calls jobsctl makes.

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::auth::{self, AuthMode};

/// Per-request timeout: the API answers within its Lambda's 15 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error (`{"error": {"code", "message"}}`).
    #[error("{status} {code}: {message}")]
    Api { status: u16, code: String, message: String },
    #[error("cannot reach {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("no AWS credentials for SigV4: {0}")]
    Credentials(#[from] aws_credential_types::provider::error::CredentialsError),
    #[error(transparent)]
    Sign(#[from] auth::SignError),
    #[error("unexpected answer from {url}: {detail}")]
    Decode { url: String, detail: String },
}

impl ClientError {
    /// Worth repeating: the API or the network failed (5xx, 429, no answer), not the request.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Api { status, .. } => *status >= 500 || *status == 429,
            ClientError::Transport { .. } => true,
            _ => false,
        }
    }
}

enum Auth {
    None,
    Bearer(String),
    SigV4 { region: String, credentials: SharedCredentialsProvider },
}

/// Why a path has no URL under the API's base.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error(transparent)]
    Parse(#[from] url::ParseError),
    /// The path named another host or left the base path (`/http://other/…`, `/../…`): never
    /// sent, since it would carry this client's signature or token elsewhere.
    #[error("{0} is not under the API's base URL")]
    Outside(Url),
}

/// `path` under `base`, keeping a base path (a custom domain's `/v1`): `join` alone would replace
/// its last segment. The result is always under `base`.
pub fn endpoint(base: &Url, path: &str) -> Result<Url, EndpointError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    // "./" keeps a path that looks like a URL (`http://other/x`) or a scheme relative; the check
    // below catches what is left (dot segments).
    let url = base.join(&format!("./{}", path.trim_start_matches('/')))?;
    if url.origin() != base.origin() || !url.path().starts_with(base.path()) {
        return Err(EndpointError::Outside(url));
    }
    Ok(url)
}

/// A client of one API (its base URL).
pub struct Client {
    base: Url,
    http: Hyper<HttpsConnector<HttpConnector>, Full<Bytes>>,
    auth: Auth,
}

/// An answer as it came: what `jobsctl ui` hands back to the browser.
#[derive(Debug)]
pub struct Raw {
    pub url: String,
    pub status: http::StatusCode,
    pub content_type: Option<http::HeaderValue>,
    pub body: Bytes,
}

/// The answer to `POST /jobs`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub job_id: String,
    pub status: String,
}

impl Client {
    /// A client for `base` authorized as `mode`; SigV4 loads the standard credential chain.
    pub async fn new(base: Url, mode: AuthMode) -> Result<Client, ClientError> {
        let transport = |detail: String| ClientError::Transport { url: base.to_string(), detail };
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| transport(format!("no CA certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Hyper::builder(TokioExecutor::new()).build(tls);
        let auth = match mode {
            AuthMode::None => Auth::None,
            AuthMode::Bearer(token) => Auth::Bearer(token),
            AuthMode::SigV4 { region } => {
                let sdk = aws_config::defaults(BehaviorVersion::latest())
                    .region(aws_config::Region::new(region.clone()))
                    .load()
                    .await;
                let credentials = sdk.credentials_provider().ok_or_else(|| {
                    ClientError::Credentials(aws_credential_types::provider::error::CredentialsError::not_loaded(
                        "no credentials provider in the AWS configuration",
                    ))
                })?;
                Auth::SigV4 { region, credentials }
            }
        };
        Ok(Client { base, http, auth })
    }

    /// One authorized request, its answer as it came (any status). `path` may hold a query.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Raw, ClientError> {
        let url = endpoint(&self.base, path)
            .map_err(|e| ClientError::Decode { url: format!("{}{path}", self.base), detail: e.to_string() })?;
        let mut request = http::Request::builder().method(method).uri(url.as_str());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut request =
            request.body(body).map_err(|e| ClientError::Decode { url: url.to_string(), detail: e.to_string() })?;
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                let value = format!("Bearer {token}").parse().map_err(|_| ClientError::Decode {
                    url: url.to_string(),
                    detail: "the token is not a valid header value".into(),
                })?;
                request.headers_mut().insert(http::header::AUTHORIZATION, value);
            }
            Auth::SigV4 { region, credentials } => {
                let creds = credentials.provide_credentials().await?;
                auth::sign_request(&mut request, &creds, region, SystemTime::now())?;
            }
        }
        let transport = |detail: String| ClientError::Transport { url: url.to_string(), detail };
        let exchange = async {
            let response = self.http.request(request.map(|b| Full::new(Bytes::from(b)))).await.map_err(|e| {
                // The connection error's own text says why (refused, DNS, TLS).
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                transport(format!("{e}{cause}"))
            })?;
            let status = response.status();
            let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
            let body = response.into_body().collect().await.map_err(|e| transport(e.to_string()))?.to_bytes();
            Ok::<_, ClientError>(Raw { url: url.to_string(), status, content_type, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {REQUEST_TIMEOUT:?}")))?
    }

    /// One request; a 2xx answer's JSON body (`null` when empty).
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Value, ClientError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if body.is_some() {
            all.push(("content-type", "application/json"));
        }
        let Raw { url, status, body, .. } = self.send(method, path, bytes, &all).await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let error = value.as_ref().map(|v| &v["error"]);
            let field = |name: &str| error.and_then(|e| e[name].as_str()).map(str::to_owned);
            return Err(ClientError::Api {
                status: status.as_u16(),
                code: field("code").unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase()),
                // API Gateway's own refusals (403 on a bad signature) say `{"message": …}`.
                message: field("message")
                    .or_else(|| value.as_ref().and_then(|v| v["message"].as_str()).map(str::to_owned))
                    .unwrap_or_else(|| text.chars().take(200).collect()),
            });
        }
        match value {
            Some(v) => Ok(v),
            None if text.trim().is_empty() => Ok(Value::Null),
            None => Err(ClientError::Decode { url: url.to_string(), detail: format!("not JSON: {text:.200}") }),
        }
    }

    /// `POST /jobs`: one job of `kind` (the kind's defaults when `payload` is `None`).
    pub async fn submit(
        &self,
        kind: &str,
        payload: Option<&Value>,
        options: JobOptions<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, ClientError> {
        let mut body = serde_json::json!({ "job": kind });
        if let Some(p) = payload {
            body["payload"] = p.clone();
        }
        options.add_to(&mut body);
        let headers: Vec<(&str, &str)> = idempotency_key.map(|k| ("idempotency-key", k)).into_iter().collect();
        let answer = self.call(http::Method::POST, "/jobs", Some(&body), &headers).await?;
        serde_json::from_value(answer.clone())
            .map_err(|e| ClientError::Decode { url: format!("{}jobs", self.base), detail: format!("{e}: {answer}") })
    }

    /// `GET /jobs/{id}`.
    pub async fn job(&self, id: &str) -> Result<Value, ClientError> {
        self.call(http::Method::GET, &format!("/jobs/{id}"), None, &[]).await
    }

    /// `GET /jobs/stats`.
    pub async fn stats(&self) -> Result<Value, ClientError> {
        self.call(http::Method::GET, "/jobs/stats", None, &[]).await
    }

    /// `GET /jobs?…`: one page, newest first.
    pub async fn list(&self, filter: &ListFilter) -> Result<Value, ClientError> {
        self.call(http::Method::GET, &format!("/jobs{}", filter.query()), None, &[]).await
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Result<Value, ClientError> {
        self.call(http::Method::POST, &format!("/jobs/{id}/cancel"), None, &[]).await
    }

    /// `POST /jobs/{id}/retry`: a new job with the old one's kind and payload (and its priority
    /// and tenant unless `options` names others).
    pub async fn retry(
        &self,
        id: &str,
        options: JobOptions<'_>,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, ClientError> {
        let headers: Vec<(&str, &str)> = idempotency_key.map(|k| ("idempotency-key", k)).into_iter().collect();
        let path = format!("/jobs/{id}/retry");
        let mut body = serde_json::json!({});
        options.add_to(&mut body);
        let body = Some(body).filter(|b| b.as_object().is_some_and(|o| !o.is_empty()));
        let answer = self.call(http::Method::POST, &path, body.as_ref(), &headers).await?;
        serde_json::from_value(answer.clone())
            .map_err(|e| ClientError::Decode { url: path, detail: format!("{e}: {answer}") })
    }

    /// `GET /jobs/kinds`.
    pub async fn kinds(&self) -> Result<Value, ClientError> {
        self.call(http::Method::GET, "/jobs/kinds", None, &[]).await
    }

    /// `GET /jobs/pools`.
    pub async fn pools(&self) -> Result<Value, ClientError> {
        self.call(http::Method::GET, "/jobs/pools", None, &[]).await
    }

    /// `GET /tenants`.
    pub async fn tenants(&self, limit: Option<u32>, after: Option<&str>) -> Result<Value, ClientError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        let query = query.finish();
        let path = if query.is_empty() { "/tenants".to_owned() } else { format!("/tenants?{query}") };
        self.call(http::Method::GET, &path, None, &[]).await
    }

    /// `GET /tenants/{tenant}`.
    pub async fn tenant(&self, tenant: &str) -> Result<Value, ClientError> {
        self.call(http::Method::GET, &tenant_path(tenant), None, &[]).await
    }

    /// `PUT /tenants/{tenant}`.
    pub async fn put_tenant(&self, tenant: &str, change: &Value) -> Result<Value, ClientError> {
        self.call(http::Method::PUT, &tenant_path(tenant), Some(change), &[]).await
    }

    /// `DELETE /tenants/{tenant}`.
    pub async fn reset_tenant(&self, tenant: &str) -> Result<Value, ClientError> {
        self.call(http::Method::DELETE, &tenant_path(tenant), None, &[]).await
    }

    /// `POST /jobs/schedules`.
    pub async fn create_schedule(&self, request: &Value) -> Result<Value, ClientError> {
        self.call(http::Method::POST, "/jobs/schedules", Some(request), &[]).await
    }

    /// `GET /jobs/schedules`.
    pub async fn schedules(&self) -> Result<Value, ClientError> {
        self.call(http::Method::GET, "/jobs/schedules", None, &[]).await
    }

    /// `GET /jobs/schedules/{name}`.
    pub async fn schedule(&self, name: &str) -> Result<Value, ClientError> {
        self.call(http::Method::GET, &format!("/jobs/schedules/{name}"), None, &[]).await
    }

    /// `PATCH /jobs/schedules/{name}`.
    pub async fn patch_schedule(&self, name: &str, change: &Value) -> Result<Value, ClientError> {
        self.call(http::Method::PATCH, &format!("/jobs/schedules/{name}"), Some(change), &[]).await
    }

    /// `DELETE /jobs/schedules/{name}`.
    pub async fn delete_schedule(&self, name: &str) -> Result<(), ClientError> {
        self.call(http::Method::DELETE, &format!("/jobs/schedules/{name}"), None, &[]).await.map(|_| ())
    }
}

/// A tenant's path, its name escaped (a bad name reaches the API, which says why it is bad).
fn tenant_path(tenant: &str) -> String {
    let name: String = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect();
    format!("/tenants/{}", name.replace('+', "%20"))
}

/// What a new job (or a retry) may name besides its kind and payload (`None`: the API's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobOptions<'a> {
    pub priority: Option<&'a str>,
    pub tenant: Option<&'a str>,
}

impl JobOptions<'_> {
    fn add_to(&self, body: &mut Value) {
        for (key, value) in [("priority", self.priority), ("tenant", self.tenant)] {
            if let Some(v) = value {
                body[key] = Value::String(v.to_owned());
            }
        }
    }
}

/// The filters and page of `GET /jobs` (all optional; the API picks the index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub schedule: Option<String>,
    pub submitted_by: Option<String>,
    pub tenant: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl ListFilter {
    /// The query string, `?`-prefixed (empty without filters), every value URL-encoded.
    pub fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let limit = self.limit.map(|l| l.to_string());
        for (name, value) in [
            ("status", self.status.as_deref()),
            ("kind", self.kind.as_deref()),
            ("schedule", self.schedule.as_deref()),
            ("submittedBy", self.submitted_by.as_deref()),
            ("tenant", self.tenant.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", self.cursor.as_deref()),
        ] {
            if let Some(v) = value {
                q.append_pair(name, v);
            }
        }
        let q = q.finish();
        if q.is_empty() { q } else { format!("?{q}") }
    }

    /// The command that lists the page after this one (its `nextCursor`): the same filters and
    /// limit, since a cursor belongs to its filters; every value quoted for a POSIX shell.
    pub fn next_page_command(&self, cursor: &str) -> String {
        let limit = self.limit.map(|l| l.to_string());
        let mut command = String::from("jobsctl list");
        for (flag, value) in [
            ("--status", self.status.as_deref()),
            ("--kind", self.kind.as_deref()),
            ("--schedule", self.schedule.as_deref()),
            ("--submitted-by", self.submitted_by.as_deref()),
            ("--tenant", self.tenant.as_deref()),
            ("--limit", limit.as_deref()),
            ("--cursor", Some(cursor)),
        ] {
            if let Some(v) = value {
                command.push_str(&format!(" {flag} {}", shell_quote(v)));
            }
        }
        command
    }
}

/// `value` as one word for a POSIX shell: bare when it is plainly safe, else single-quoted.
fn shell_quote(value: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_.:/@=+,%".contains(&b);
    if !value.is_empty() && value.bytes().all(plain) {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_keeps_the_filters_and_the_limit() {
        let filter = ListFilter {
            status: Some("SUCCEEDED".into()),
            kind: Some("sleep".into()),
            limit: Some(1),
            cursor: Some("old".into()),
            ..ListFilter::default()
        };
        assert_eq!(
            filter.next_page_command("eyJr_-9"),
            "jobsctl list --status SUCCEEDED --kind sleep --limit 1 --cursor eyJr_-9"
        );
        let by = ListFilter { submitted_by: Some("arn:aws:iam::1:user/o'neil x".into()), ..ListFilter::default() };
        assert_eq!(
            by.next_page_command("c"),
            r"jobsctl list --submitted-by 'arn:aws:iam::1:user/o'\''neil x' --cursor c"
        );
        assert_eq!(ListFilter::default().next_page_command("c"), "jobsctl list --cursor c");
        let of = ListFilter { tenant: Some("acme".into()), status: Some("FAILED".into()), ..ListFilter::default() };
        assert_eq!(of.next_page_command("c"), "jobsctl list --status FAILED --tenant acme --cursor c");
        assert_eq!(of.query(), "?status=FAILED&tenant=acme");
    }

    #[test]
    fn list_query_table() {
        let by = |s: &str| ListFilter { submitted_by: Some(s.into()), ..ListFilter::default() };
        let cases = [
            (ListFilter::default(), ""),
            (
                ListFilter { status: Some("FAILED".into()), limit: Some(5), ..ListFilter::default() },
                "?status=FAILED&limit=5",
            ),
            (by("arn:aws:iam::1:user/a b"), "?submittedBy=arn%3Aaws%3Aiam%3A%3A1%3Auser%2Fa+b"),
            (
                ListFilter { kind: Some("noop".into()), cursor: Some("x/y=".into()), ..ListFilter::default() },
                "?kind=noop&cursor=x%2Fy%3D",
            ),
        ];
        for (filter, want) in cases {
            assert_eq!(filter.query(), want, "{filter:?}");
        }
    }

    #[test]
    fn endpoint_table() {
        let cases = [
            ("http://127.0.0.1:3000", "/jobs/stats", "http://127.0.0.1:3000/jobs/stats"),
            ("http://127.0.0.1:3000/", "/jobs", "http://127.0.0.1:3000/jobs"),
            (
                "https://abc.execute-api.eu-west-1.amazonaws.com",
                "/jobs/a:b",
                "https://abc.execute-api.eu-west-1.amazonaws.com/jobs/a:b",
            ),
            ("https://jobs.example.com/v1", "/jobs", "https://jobs.example.com/v1/jobs"),
            ("https://jobs.example.com/v1/", "jobs/stats", "https://jobs.example.com/v1/jobs/stats"),
        ];
        for (base, path, want) in cases {
            assert_eq!(endpoint(&base.parse().unwrap(), path).unwrap().as_str(), want, "{base} {path}");
        }
        // What a page could put in the proxy's path: never another host, never above the base.
        let base: Url = "https://jobs.example.com/v1".parse().unwrap();
        for path in ["/http://evil.example/x", "//evil.example/x", "/../admin", "/jobs/../../x", "https://evil.example"]
        {
            match endpoint(&base, path) {
                Ok(url) => {
                    assert_eq!(url.host_str(), Some("jobs.example.com"), "{path}: {url}");
                    assert!(url.path().starts_with("/v1/"), "{path}: {url}");
                }
                Err(EndpointError::Outside(url)) => {
                    assert!(!url.path().starts_with("/v1/") || url.host_str() != Some("jobs.example.com"))
                }
                Err(e) => panic!("{path}: {e}"),
            }
        }
    }
}
