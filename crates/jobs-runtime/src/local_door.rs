//! Who may use a server listening on this machine (the local API, `jobsctl ui`). Any web page the
//! developer opens can make the browser send requests to a loopback port, so two kinds of request
//! are refused, whatever token they carry:
//!
//! - a `Host` that is not a loopback name (or one the operator allowed): a DNS-rebinding page
//!   reaches the port under its own name;
//! - a cross-origin request: an `Origin` other than the server's own, or, without one, a browser's
//!   `Sec-Fetch-Site` saying another site sent a request that changes something (a form's
//!   `text/plain` POST needs no CORS preflight, so the browser sends it).
//!
//! `curl` and other programs send no `Origin`, and the dashboard's own calls are same-origin:
//! both pass. Pure: the servers' middleware asks [`check`].

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Host {0:?} is not a loopback name: this server answers only on localhost (DNS rebinding)")]
    ForeignHost(String),
    #[error("cross-origin request refused (Origin {0:?}): only this server's own pages may call it")]
    CrossOrigin(String),
    #[error("cross-site request refused (Sec-Fetch-Site: {0}): only this server's own pages may call it")]
    CrossSite(String),
}

impl Refusal {
    /// A stable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ForeignHost(_) => "foreign_host",
            Refusal::CrossOrigin(_) | Refusal::CrossSite(_) => "cross_origin",
        }
    }
}

/// What [`check`] looks at in a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub method: &'a str,
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
}

/// Whether `host` (a `Host` header, with or without a port) names this machine's loopback.
pub fn loopback_host(host: &str) -> bool {
    let name = strip_port(host);
    matches!(name, "localhost" | "[::1]") || name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether the request may pass. `allowed`: more host names the operator accepts (e.g. a
/// container's service name), compared without the port and case-insensitively.
pub fn check(req: &Request<'_>, allowed: &[String]) -> Result<(), Refusal> {
    let host = req.host.unwrap_or_default();
    let named = |h: &str| allowed.iter().any(|a| a.eq_ignore_ascii_case(strip_port(h)));
    if !(loopback_host(host) || named(host)) {
        return Err(Refusal::ForeignHost(host.to_owned()));
    }
    if let Some(origin) = req.origin {
        // The server's own origin is `http://<Host>` (what a page it served sends).
        let own = origin.strip_prefix("http://").is_some_and(|rest| rest.eq_ignore_ascii_case(host));
        if !own {
            return Err(Refusal::CrossOrigin(origin.to_owned()));
        }
        return Ok(());
    }
    let safe = matches!(req.method, "GET" | "HEAD" | "OPTIONS");
    match req.sec_fetch_site {
        Some(site @ ("cross-site" | "same-site")) if !safe => Err(Refusal::CrossSite(site.to_owned())),
        _ => Ok(()),
    }
}

/// Compares two secrets in time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        let cases = [
            ("127.0.0.1:8001", true),
            ("localhost:8001", true),
            ("localhost", true),
            ("[::1]:8001", true),
            ("[::1]", true),
            ("127.0.0.1", true),
            ("127.1.2.3:3000", true),
            ("evil.example:8001", false),
            ("127.0.0.1.evil.example:8001", false),
            ("localhost.evil.example", false),
            ("10.0.0.1:3000", false),
            ("localhost:", false),
            ("", false),
        ];
        for (host, want) in cases {
            assert_eq!(loopback_host(host), want, "{host:?}");
        }
    }

    #[test]
    fn requests_table() {
        let allowed = vec!["api.internal".to_owned()];
        let req = |method, host, origin, site| Request { method, host, origin, sec_fetch_site: site };
        let h = Some("127.0.0.1:3000");
        // (request, expected: None passes, Some(code) refused)
        let cases = [
            // curl: no Origin, no Sec-Fetch-*.
            (req("POST", h, None, None), None),
            (req("GET", Some("localhost:3000"), None, None), None),
            // The dashboard's own calls.
            (req("POST", h, Some("http://127.0.0.1:3000"), Some("same-origin")), None),
            (req("GET", h, None, Some("same-origin")), None),
            // A link followed from another site: a navigation, changes nothing.
            (req("GET", h, None, Some("cross-site")), None),
            (req("GET", Some("api.internal:3000"), None, None), None),
            (req("GET", Some("API.internal"), None, None), None),
            // DNS rebinding and unnamed hosts.
            (req("GET", Some("evil.example:3000"), None, None), Some("foreign_host")),
            (req("GET", None, None, None), Some("foreign_host")),
            // A page elsewhere posting a form (text/plain, no preflight).
            (req("POST", h, Some("http://evil.example"), Some("cross-site")), Some("cross_origin")),
            (req("POST", h, Some("null"), None), Some("cross_origin")),
            // Another local port is another origin.
            (req("POST", h, Some("http://127.0.0.1:8080"), Some("same-site")), Some("cross_origin")),
            (req("GET", h, Some("http://localhost:3000"), None), Some("cross_origin")),
            (req("POST", h, None, Some("cross-site")), Some("cross_origin")),
            (req("DELETE", h, None, Some("same-site")), Some("cross_origin")),
        ];
        for (r, want) in cases {
            let got = check(&r, &allowed).err();
            assert_eq!(got.as_ref().map(Refusal::code), want, "{r:?}: {got:?}");
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
