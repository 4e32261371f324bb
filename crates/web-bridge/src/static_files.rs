//! The UI's web build, read from `ui/dist` on each request (it is small, and a rebuilt UI is
//! served without a restart). `index.html` carries the marker that picks the web backend.

use std::path::{Component, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Shared;

/// Makes the UI pick `ui/src/lib/backend/web.ts`.
pub const MARKER: &str = r#"<meta name="agent-inbox-backend" content="web">"#;

fn content_type(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `/assets/x.js` -> `dist/assets/x.js`; `None` for anything that could leave `dist`.
fn resolve(dist: &std::path::Path, uri_path: &str) -> Option<PathBuf> {
    let rel = uri_path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let mut path = dist.to_path_buf();
    for part in std::path::Path::new(rel).components() {
        match part {
            Component::Normal(p) => path.push(p),
            _ => return None,
        }
    }
    Some(path)
}

pub(crate) async fn serve(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let Some(path) = resolve(&s.dist, req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = content_type(&path);
    let body = if path.file_name().is_some_and(|n| n == "index.html") {
        let html = String::from_utf8_lossy(&bytes);
        html.replacen("<head>", &format!("<head>\n    {MARKER}"), 1)
            .into_bytes()
    } else {
        bytes
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_dist() {
        let dist = std::path::Path::new("/srv/dist");
        assert_eq!(resolve(dist, "/"), Some(dist.join("index.html")));
        assert_eq!(
            resolve(dist, "/assets/app.js"),
            Some(dist.join("assets/app.js"))
        );
        assert_eq!(resolve(dist, "/../etc/passwd"), None);
        assert_eq!(resolve(dist, "/assets/../../x"), None);
    }
}
