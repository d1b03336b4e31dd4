//! How requests are authorized, and SigV4 signing for API Gateway's IAM authorization.
//!
//! The rule ([`choose`]): a bearer token when one is given (the local API's `API_TOKEN`); SigV4
//! for an `*.amazonaws.com` URL or with `--sigv4` (the service is `execute-api`, the region comes
//! from `--region`, `AWS_REGION` or the URL); otherwise nothing (a local API without a token).
//! Credentials come from the standard AWS chain (environment, profile, SSO, container, instance).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The SigV4 service name of API Gateway.
pub const SERVICE: &str = "execute-api";

/// How requests to the API are authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    None,
    Bearer(String),
    SigV4 { region: String },
}

/// Why no authorization could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("--token and --sigv4 exclude each other")]
    Both,
    #[error("SigV4 needs a region: pass --region or set AWS_REGION (the URL {0} does not name one)")]
    NoRegion(String),
}

/// Picks the authorization for `url` (see the module's text). `sigv4`: `Some` when forced on/off.
pub fn choose(
    url: &url::Url,
    token: Option<&str>,
    sigv4: Option<bool>,
    region: Option<&str>,
) -> Result<AuthMode, AuthError> {
    let host = url.host_str().unwrap_or_default();
    let token = token.filter(|t| !t.is_empty());
    let aws = sigv4.unwrap_or(host.ends_with(".amazonaws.com") && token.is_none());
    match token {
        Some(_) if sigv4 == Some(true) => Err(AuthError::Both),
        Some(t) => Ok(AuthMode::Bearer(t.to_owned())),
        None if aws => {
            let region = region.filter(|r| !r.is_empty()).map(str::to_owned).or_else(|| region_of(host));
            region.map(|region| AuthMode::SigV4 { region }).ok_or_else(|| AuthError::NoRegion(url.to_string()))
        }
        None => Ok(AuthMode::None),
    }
}

/// The region of an API Gateway host: `<api>.execute-api.<region>.amazonaws.com`.
pub fn region_of(host: &str) -> Option<String> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [_, "execute-api", region, "amazonaws", "com" | "com.cn"]
        | [_, "execute-api", region, "amazonaws", "com", "cn"] => Some((*region).to_owned()),
        _ => None,
    }
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// Signs `request` in place (adds `authorization`, `x-amz-date` and, for temporary credentials,
/// `x-amz-security-token`) for API Gateway in `region`, at time `at`.
pub fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    credentials: &Credentials,
    region: &str,
    at: SystemTime,
) -> Result<(), SignError> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SignError(e.to_string()))?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .map(|(k, v)| Ok((k.as_str(), v.to_str().map_err(|e| SignError(format!("header {k}: {e}")))?)))
        .collect::<Result<_, SignError>>()?;
    let uri = request.uri().to_string();
    let signable =
        SignableRequest::new(request.method().as_str(), &uri, headers.into_iter(), SignableBody::Bytes(request.body()))
            .map_err(|e| SignError(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| SignError(e.to_string()))?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_table() {
        let aws = "https://abc123.execute-api.eu-west-1.amazonaws.com";
        let local = "http://127.0.0.1:3000";
        let sigv4 = |r: &str| Ok(AuthMode::SigV4 { region: r.into() });
        type Case<'a> = (&'a str, Option<&'a str>, Option<bool>, Option<&'a str>, Result<AuthMode, AuthError>);
        // (url, token, --sigv4, region, mode)
        let cases: Vec<Case<'_>> = vec![
            (aws, None, None, None, sigv4("eu-west-1")),
            (aws, None, None, Some("us-east-1"), sigv4("us-east-1")),
            (aws, Some("t"), None, None, Ok(AuthMode::Bearer("t".into()))),
            (aws, None, Some(false), None, Ok(AuthMode::None)),
            (local, None, None, None, Ok(AuthMode::None)),
            (local, Some("t"), None, None, Ok(AuthMode::Bearer("t".into()))),
            (local, Some(""), None, None, Ok(AuthMode::None)),
            (local, None, Some(true), Some("eu-west-1"), sigv4("eu-west-1")),
            (local, None, Some(true), None, Err(AuthError::NoRegion(format!("{local}/")))),
            (
                "https://api.example.com",
                None,
                Some(true),
                None,
                Err(AuthError::NoRegion("https://api.example.com/".into())),
            ),
            (local, Some("t"), Some(true), None, Err(AuthError::Both)),
        ];
        for (url, token, flag, region, want) in cases {
            let got = choose(&url.parse().unwrap(), token, flag, region);
            assert_eq!(got, want, "{url} {token:?} {flag:?} {region:?}");
        }
        assert_eq!(region_of("x.execute-api.cn-north-1.amazonaws.com.cn").as_deref(), Some("cn-north-1"));
        assert_eq!(region_of("sqs.eu-west-1.amazonaws.com"), None);
    }

    #[test]
    fn signing_adds_the_execute_api_authorization() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session".into()),
            None,
            "t",
        );
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_169_600); // 2026-12-02T00:00:00Z
        let request = |body: &str| {
            http::Request::builder()
                .method("POST")
                .uri("https://abc123.execute-api.eu-west-1.amazonaws.com/jobs")
                .header("content-type", "application/json")
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        let mut a = request(r#"{"job":"noop"}"#);
        sign_request(&mut a, &creds, "eu-west-1", at).unwrap();
        let auth = a.headers()["authorization"].to_str().unwrap().to_owned();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/eu-west-1/execute-api/aws4_request"),
            "{auth}"
        );
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"), "{auth}");
        assert_eq!(a.headers()["x-amz-date"], "20261202T000000Z");
        assert_eq!(a.headers()["x-amz-security-token"], "session");
        // The body is part of the signature; the same request signs the same.
        let mut b = request(r#"{"job":"sleep"}"#);
        sign_request(&mut b, &creds, "eu-west-1", at).unwrap();
        assert_ne!(b.headers()["authorization"], a.headers()["authorization"]);
        let mut c = request(r#"{"job":"noop"}"#);
        sign_request(&mut c, &creds, "eu-west-1", at).unwrap();
        assert_eq!(c.headers()["authorization"], a.headers()["authorization"]);
    }
}
