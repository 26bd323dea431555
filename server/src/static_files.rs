//! Serving the demo page and the built `pkg/` in dev mode, with the content
//! types browsers insist on (`application/wasm`, `text/javascript`).

use std::path::{Component, Path, PathBuf};

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The content type for a file name.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "ts" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `root/rel` if `rel` is a plain relative path (no `..`, no absolute part).
pub fn resolve(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel.trim_start_matches('/'));
    if rel.as_os_str().is_empty() || rel.to_string_lossy().contains('\\') {
        return None;
    }
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(rel))
}

/// Answers with the file at `root/rel`, or 404.
pub async fn serve(root: &Path, rel: &str) -> Response {
    let Some(path) = resolve(root, rel) else {
        return not_found();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_outside_the_root() {
        let root = Path::new("/srv/www");
        assert_eq!(
            resolve(root, "a/b.js"),
            Some(PathBuf::from("/srv/www/a/b.js"))
        );
        assert_eq!(resolve(root, "../etc/passwd"), None);
        assert_eq!(resolve(root, "a/../../x"), None);
        assert_eq!(resolve(root, "a\\..\\x"), None);
        assert_eq!(resolve(root, ""), None);
    }

    #[test]
    fn serves_wasm_and_js_with_browser_types() {
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
        assert!(content_type(Path::new("x.js")).starts_with("text/javascript"));
    }
}
