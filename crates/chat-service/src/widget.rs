//! The visitor widget: a static page, script and stylesheet embedded in the binary, plus the
//! `embed.js` loader that websites include. Served under `/widget`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX_HTML: &str = include_str!("../widget/index.html");
const WIDGET_JS: &str = include_str!("../widget/widget.js");
const WIDGET_CSS: &str = include_str!("../widget/widget.css");
const EMBED_JS: &str = include_str!("../widget/embed.js");

/// The page's policy: only this service's own scripts, styles and sockets; any site may frame it
/// (that is what `embed.js` does).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self' ws: wss:; frame-ancestors *; base-uri 'none'; \
                   form-action 'none'; object-src 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Routes for the widget's files. Mount with `Router::merge`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/widget", get(index))
        .route("/widget/", get(index))
        .route("/widget/index.html", get(index))
        .route("/widget/widget.js", get(|| async { asset(JS, WIDGET_JS) }))
        .route(
            "/widget/widget.css",
            get(|| async { asset(CSS, WIDGET_CSS) }),
        )
        .route("/widget/embed.js", get(|| async { asset(JS, EMBED_JS) }))
}

async fn index() -> Response {
    let mut res = asset(HTML, INDEX_HTML);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn fetch(path: &str) -> Response {
        let app: Router = router();
        app.oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(res: &Response, name: header::HeaderName) -> &str {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    #[tokio::test]
    async fn serves_each_file_with_its_type() {
        for (path, ty) in [
            ("/widget", HTML),
            ("/widget/", HTML),
            ("/widget/index.html", HTML),
            ("/widget/widget.js", JS),
            ("/widget/widget.css", CSS),
            ("/widget/embed.js", JS),
        ] {
            let res = fetch(path).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&res, header::CONTENT_TYPE), ty, "{path}");
            assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-cache", "{path}");
        }
    }

    #[tokio::test]
    async fn page_has_a_strict_policy_and_no_inline_script() {
        let res = fetch("/widget").await;
        let csp = header_of(&res, header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("style-src 'self'"), "{csp}");
        assert!(csp.contains("connect-src 'self' ws: wss:"), "{csp}");
        assert!(csp.contains("frame-ancestors *"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        // Every <script> in the page loads a file; none carries code inline.
        for part in INDEX_HTML.split("<script").skip(1) {
            let tag_end = part.find('>').unwrap();
            assert!(
                part[..tag_end].contains("src="),
                "inline script in index.html"
            );
            assert!(part[tag_end + 1..].trim_start().starts_with("</script>"));
        }
        assert!(
            !INDEX_HTML.contains(" style="),
            "inline style in index.html"
        );
        // No inline event handler attribute (` onclick=` and the like).
        for (at, _) in INDEX_HTML.match_indices(" on") {
            let name: String = INDEX_HTML[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let after = &INDEX_HTML[at + 1 + name.len()..];
            assert!(
                !after.starts_with('='),
                "inline handler {name} in index.html"
            );
        }
    }

    #[tokio::test]
    async fn unknown_files_are_not_found() {
        let res = fetch("/widget/nope.js").await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_widget_never_renders_data_as_markup() {
        for (name, src) in [("widget.js", WIDGET_JS), ("embed.js", EMBED_JS)] {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
            ] {
                assert!(!src.contains(sink), "{name} uses {sink}");
            }
        }
    }
}
