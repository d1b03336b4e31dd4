//! Who is calling: the identity a job records as `submittedBy` (the vocabulary is
//! `jobs_core::submitter`).
//!
//! In AWS, API Gateway's IAM authorizer puts the caller's ARN into the request context, which
//! `lambda_http` hands to the router as a request extension. Locally, the bearer-token middleware
//! puts the identity of the token presented (`API_TOKEN`: `local`; a named `API_TOKENS` entry:
//! `local:<name>`). A local server never sees a request context, so a client cannot claim an ARN.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jobs_core::submitter;
use lambda_http::request::RequestContext;

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// The identity the token middleware found (an extension of requests that presented a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity(pub String);

impl Caller {
    /// The rule: the IAM principal API Gateway authorized, else the token's identity; a request
    /// from Lambda with neither is `anonymous`, a local one `local`.
    pub fn identify(context: Option<&RequestContext>, token: Option<&TokenIdentity>) -> Caller {
        let iam = match context {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.authorizer.as_ref().and_then(|a| a.iam.as_ref()),
            _ => None,
        };
        let principal = iam.and_then(|iam| iam.user_arn.clone().or_else(|| iam.caller_id.clone()));
        let fallback = if context.is_some() { submitter::ANONYMOUS } else { submitter::LOCAL };
        let who = principal.or_else(|| token.map(|t| t.0.clone())).filter(|w| submitter::valid(w));
        Caller(who.unwrap_or_else(|| fallback.to_owned()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller::identify(parts.extensions.get::<RequestContext>(), parts.extensions.get::<TokenIdentity>()))
    }
}

/// The local bearer tokens and whose they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens(Vec<(String, TokenIdentity)>);

impl Tokens {
    /// `API_TOKEN` (identity `local`) and `API_TOKENS` (`name=token,…`, identity `local:<name>`).
    pub fn new(unnamed: Option<&str>, named: Option<&NamedTokens>) -> Tokens {
        let mut tokens: Vec<(String, TokenIdentity)> = Vec::new();
        if let Some(t) = unnamed.filter(|t| !t.is_empty()) {
            tokens.push((t.to_owned(), TokenIdentity(submitter::LOCAL.to_owned())));
        }
        for (name, token) in named.map(|n| n.0.as_slice()).unwrap_or_default() {
            tokens.push((token.clone(), TokenIdentity(submitter::of_local_token(name))));
        }
        Tokens(tokens)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whose token `presented` is (compared in constant time per token).
    pub fn identify(&self, presented: &str) -> Option<&TokenIdentity> {
        self.0
            .iter()
            .find(|(token, _)| jobs_runtime::local_door::constant_time_eq(token.as_bytes(), presented.as_bytes()))
            .map(|(_, id)| id)
    }
}

/// `API_TOKENS`: `name=token` pairs separated by commas (a token may contain `=`, a name may not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTokens(pub Vec<(String, String)>);

impl std::str::FromStr for NamedTokens {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((name, token)) = entry.split_once('=') else {
                return Err(format!("{:?} is not name=token", entry.split('=').next().unwrap_or_default()));
            };
            if !submitter::valid_token_name(name) {
                return Err(format!("token name {name:?}: 1-64 characters of A-Z a-z 0-9 . _ -"));
            }
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!("the token of {name:?} must be visible ASCII characters"));
            }
            if pairs.iter().any(|(n, t)| n == name || t == token) {
                return Err(format!("token name {name:?} or its token appears twice"));
            }
            pairs.push((name.to_owned(), token.to_owned()));
        }
        Ok(NamedTokens(pairs))
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    use super::*;

    fn context(iam: serde_json::Value) -> RequestContext {
        let mut ctx = serde_json::json!({
            "accountId": "123456789012", "apiId": "abc", "requestId": "r", "routeKey": "$default", "stage": "$default",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
        });
        if !iam.is_null() {
            ctx["authorizer"] = serde_json::json!({ "iam": iam });
        }
        let ctx: ApiGatewayV2httpRequestContext = serde_json::from_value(ctx).unwrap();
        RequestContext::ApiGatewayV2(ctx)
    }

    #[test]
    fn identify_table() {
        let alice = "arn:aws:iam::123456789012:user/alice";
        let role = "arn:aws:sts::123456789012:assumed-role/deployer/ci";
        let token = TokenIdentity("local:ci".into());
        // (request context, token identity, caller)
        let cases: Vec<(Option<RequestContext>, Option<&TokenIdentity>, &str)> = vec![
            (Some(context(serde_json::json!({"userArn": alice, "accountId": "123456789012"}))), None, alice),
            (Some(context(serde_json::json!({"userArn": role}))), Some(&token), role),
            (Some(context(serde_json::json!({"callerId": "AROAEXAMPLE:ci"}))), None, "AROAEXAMPLE:ci"),
            (Some(context(serde_json::Value::Null)), Some(&token), "local:ci"),
            (Some(context(serde_json::Value::Null)), None, "anonymous"),
            (None, Some(&token), "local:ci"),
            (None, None, "local"),
            (Some(context(serde_json::json!({"userArn": "has space"}))), None, "anonymous"),
        ];
        for (ctx, token, want) in cases {
            assert_eq!(Caller::identify(ctx.as_ref(), token), Caller(want.into()), "{ctx:?} {token:?}");
        }
    }

    #[test]
    fn named_tokens_table() {
        let ok = |text: &str| text.parse::<NamedTokens>().map(|t| t.0);
        let pair = |n: &str, t: &str| (n.to_owned(), t.to_owned());
        assert_eq!(ok("ci=s3cret, alice=YWJj=="), Ok(vec![pair("ci", "s3cret"), pair("alice", "YWJj==")]));
        assert_eq!(ok(""), Ok(vec![]));
        for (text, fragment) in [
            ("ci", "not name=token"),
            ("=tok", "token name"),
            ("a b=tok", "token name"),
            ("ci=", "visible ASCII"),
            ("ci=a b", "visible ASCII"),
            ("ci=a,ci=b", "twice"),
            ("ci=a,cd=a", "twice"),
        ] {
            let err = ok(text).unwrap_err();
            assert!(err.contains(fragment), "{text:?}: {err}");
        }
        let tokens = Tokens::new(Some("plain"), Some(&"ci=s3cret".parse().unwrap()));
        assert_eq!(tokens.identify("plain"), Some(&TokenIdentity("local".into())));
        assert_eq!(tokens.identify("s3cret"), Some(&TokenIdentity("local:ci".into())));
        assert_eq!(tokens.identify("s3cre"), None);
        assert_eq!(tokens.identify(""), None);
        assert!(Tokens::new(Some(""), None).is_empty());
    }
}
