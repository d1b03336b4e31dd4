//! The operator's web dashboard. Its files (the HTML, six small ES modules, one stylesheet) are
//! embedded in the binary and call the JSON API from the browser, so the page is the same
//! whether the API serves it (`make up`, `http://127.0.0.1:3000/`) or `jobsctl ui` does in front
//! of the AWS API. No front-end toolchain at build or run time: plain DOM code, an SVG chart.
//!
//! The assets hold no data, so they are served without the API's token; every call they make
//! carries it (`Authorization: Bearer`, asked for once and kept for the browser tab).

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the dashboard, by the path it is served at.
pub const ASSETS: [Asset; 9] = [
    Asset { path: "/", content_type: "text/html; charset=utf-8", body: include_str!("../assets/index.html") },
    Asset { path: "/ui/app.css", content_type: "text/css; charset=utf-8", body: include_str!("../assets/app.css") },
    // The entry point, then the modules it imports.
    Asset { path: "/ui/app.js", content_type: JS, body: include_str!("../assets/app.js") },
    Asset { path: "/ui/api.js", content_type: JS, body: include_str!("../assets/api.js") },
    Asset { path: "/ui/dom.js", content_type: JS, body: include_str!("../assets/dom.js") },
    Asset { path: "/ui/header.js", content_type: JS, body: include_str!("../assets/header.js") },
    Asset { path: "/ui/views.js", content_type: JS, body: include_str!("../assets/views.js") },
    Asset { path: "/ui/pools.js", content_type: JS, body: include_str!("../assets/pools.js") },
    Asset { path: "/ui/tenants.js", content_type: JS, body: include_str!("../assets/tenants.js") },
];

/// Scripts and styles from this origin only; calls to this origin only; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes of the dashboard's files, to merge into a router with any state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        let asset = *asset;
        router.route(asset.path, get(move |headers: HeaderMap| async move { serve(asset, &headers) }))
    })
}

/// A strong validator of a file's content (FNV-1a: stable across builds of the same content).
pub fn etag(body: &str) -> String {
    let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("\"{hash:016x}\"")
}

fn serve(asset: Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset.body);
    let fresh = request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == tag);
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("ASCII header value"));
    };
    set(headers, header::CONTENT_TYPE, asset.content_type);
    // Revalidated on every load: a new release's page never runs an old script.
    set(headers, header::CACHE_CONTROL, "no-cache");
    set(headers, header::ETAG, &tag);
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        routes::<()>().oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn files_are_served_with_their_type_validator_and_policy() {
        for asset in ASSETS {
            let response = get(asset.path, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            let h = response.headers();
            assert_eq!(h[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(h[header::ETAG], etag(asset.body).as_str());
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            assert!(h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
            let again = get(asset.path, Some(&etag(asset.body))).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{}", asset.path);
            assert_eq!(get(asset.path, Some("\"stale\"")).await.status(), StatusCode::OK);
        }
        assert_eq!(get("/ui/missing.js", None).await.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        let page = ASSETS[0].body;
        for path in ["/ui/app.css", "/ui/app.js"] {
            assert!(page.contains(&format!("\"{path}\"")), "index.html references {path}");
        }
        // Every module is imported by another, and every import is one of the files.
        let modules: Vec<&Asset> = ASSETS.iter().filter(|a| a.content_type == super::JS).collect();
        for module in &modules {
            for import in module.body.lines().filter_map(|l| l.strip_prefix("import ")) {
                let file = import.rsplit_once("from './").map(|(_, f)| f.trim_end_matches("';"));
                let known = file.is_some_and(|f| modules.iter().any(|m| m.path == format!("/ui/{f}")));
                assert!(known, "{}: import {import}", module.path);
            }
            let name = module.path.trim_start_matches("/ui/");
            let imported = modules.iter().any(|m| m.body.contains(&format!("from './{name}';")));
            assert!(module.path == "/ui/app.js" || imported, "{} is never imported", module.path);
        }
        // No inline script or style: the policy would block them.
        assert!(!page.contains("<script>") && !page.contains("style="), "inline code in index.html");
        assert!(!page.contains("http://") && !page.contains("https://"), "a third-party URL in index.html");
        assert_ne!(etag("a"), etag("b"));
    }
}
