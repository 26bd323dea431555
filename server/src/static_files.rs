//! Serving the demo page, a site (`--www`) and the built `pkg/` in dev
//! mode, with the content types browsers insist on (`application/wasm`,
//! `text/javascript`).
//!
//! A site is served as static hosts (nginx, GitHub Pages, Netlify) serve
//! what static site generators build: `/about/` is `about/index.html`
//! (Astro's default output), and `/about` redirects to `/about/`, so the
//! page's relative URLs (`./style.css`) resolve inside its directory as they
//! will in production. The redirect is temporary (307): a browser keeps a
//! permanent one for `localhost:PORT` long after this server is gone.

use std::path::{Component, Path, PathBuf};

use axum::http::{header, StatusCode, Uri};
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

/// `path` if, with every symbolic link followed, it is still inside
/// `root`: a link in a site's folder (to `/etc`, to a sibling folder) is
/// not a way out of it.
async fn inside(root: &Path, path: PathBuf) -> Option<PathBuf> {
    let real_root = tokio::fs::canonicalize(root).await.ok()?;
    let real = tokio::fs::canonicalize(&path).await.ok()?;
    real.starts_with(&real_root).then_some(path)
}

/// Answers with the file at `root/rel`, or 404.
pub async fn serve(root: &Path, rel: &str) -> Response {
    match resolve(root, rel) {
        Some(path) => match inside(root, path).await {
            Some(path) => send(&path).await,
            None => not_found(),
        },
        None => not_found(),
    }
}

/// What a request for a site's path gets (see the module docs).
#[derive(Debug, PartialEq, Eq)]
pub enum SiteAnswer {
    /// This file.
    File(PathBuf),
    /// A redirect to this path and query (the directory, with its slash).
    Redirect(String),
    /// 404.
    NotFound,
}

/// Where the (still percent-encoded) request `uri` leads in the site at
/// `root`: a file, a directory's `index.html`, or the redirect that adds a
/// directory's slash. Paths out of `root` (`..`, also encoded as `%2e%2e`
/// or `..%2f`; a symbolic link to outside), an encoded slash, and
/// directories without an `index.html` are not found.
pub async fn site_answer(root: &Path, uri: &Uri) -> SiteAnswer {
    // An encoded slash (`/about%2f`) would be a directory's slash that the
    // browser does not see: the page's relative URLs would resolve one
    // level up. No static host serves it; neither does this.
    let raw = uri.path().to_ascii_lowercase();
    if raw.contains("%2f") || raw.contains("%5c") {
        return SiteAnswer::NotFound;
    }
    let Ok(rel) = percent_encoding::percent_decode_str(uri.path()).decode_utf8() else {
        return SiteAnswer::NotFound;
    };
    let Some(path) = resolve(root, &rel) else {
        return SiteAnswer::NotFound;
    };
    let Some(path) = inside(root, path).await else {
        return SiteAnswer::NotFound;
    };
    let is_dir = tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir());
    if !is_dir {
        // A file has no trailing slash (static hosts answer 404 too).
        return match rel.ends_with('/') {
            true => SiteAnswer::NotFound,
            false => SiteAnswer::File(path),
        };
    }
    let index = path.join("index.html");
    if !tokio::fs::metadata(&index).await.is_ok_and(|m| m.is_file()) {
        return SiteAnswer::NotFound;
    }
    if rel.ends_with('/') {
        return SiteAnswer::File(index);
    }
    // From the decoded segments `resolve` accepted, with one leading slash:
    // never `//host` (another site) whatever the request was.
    let mut to = format!("/{}/", rel.trim_start_matches('/'));
    if let Some(query) = uri.query() {
        to = to + "?" + query;
    }
    SiteAnswer::Redirect(to)
}

/// Answers a request for a site's path (see [`site_answer`]).
pub async fn serve_site(root: &Path, uri: &Uri) -> Response {
    match site_answer(root, uri).await {
        SiteAnswer::File(path) => send(&path).await,
        SiteAnswer::Redirect(to) => match header::HeaderValue::from_str(&to) {
            Ok(location) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response(),
            Err(_) => not_found(),
        },
        SiteAnswer::NotFound => not_found(),
    }
}

/// The file at `path`, or 404.
async fn send(path: &Path) -> Response {
    match tokio::fs::read(path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
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

    /// A site as an SSG builds it, next to a secret it must never serve.
    fn site(name: &str) -> PathBuf {
        let base =
            std::env::temp_dir().join(format!("chathub-static-{name}-{}", std::process::id()));
        let www = base.join("www");
        std::fs::create_dir_all(www.join("about/team")).unwrap();
        std::fs::create_dir_all(www.join("empty")).unwrap();
        std::fs::write(www.join("index.html"), "home").unwrap();
        std::fs::write(www.join("about/index.html"), "about").unwrap();
        std::fs::write(www.join("about/team/index.html"), "team").unwrap();
        std::fs::write(www.join("about/style.css"), "p{}").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        www
    }

    async fn answer(root: &Path, uri: &str) -> SiteAnswer {
        site_answer(root, &uri.parse::<Uri>().unwrap()).await
    }

    #[tokio::test]
    async fn a_directory_with_its_slash_is_its_index_html() {
        let www = site("index");
        for (uri, file) in [
            ("/about/", "about/index.html"),
            ("/about/team/", "about/team/index.html"),
            ("/about/?lang=en", "about/index.html"),
            ("/about//", "about/index.html"),
            ("/about/style.css", "about/style.css"),
            ("/about/index.html", "about/index.html"),
        ] {
            assert_eq!(
                answer(&www, uri).await,
                SiteAnswer::File(www.join(file)),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn a_directory_without_its_slash_redirects_to_it_keeping_the_query() {
        let www = site("redirect");
        for (uri, to) in [
            ("/about", "/about/"),
            ("/about/team", "/about/team/"),
            ("/about?lang=en&x=1", "/about/?lang=en&x=1"),
            // Never a protocol-relative `//about/` (another host).
            ("//about", "/about/"),
        ] {
            assert_eq!(
                answer(&www, uri).await,
                SiteAnswer::Redirect(to.into()),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn nothing_outside_the_root_nor_a_directory_without_an_index() {
        let www = site("outside");
        for uri in [
            "/empty/",
            "/empty",
            "/missing/",
            "/about/style.css/",
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2Fsecret.txt",
            "/about/..%2F..%2Fsecret.txt",
            "/about/%2e%2e/%2e%2e/secret.txt",
            "/..%5Csecret.txt",
            "/about%00/",
            "/%ff/",
        ] {
            assert_eq!(answer(&www, uri).await, SiteAnswer::NotFound, "{uri}");
        }
        // An encoded absolute path is no path at all.
        assert_eq!(answer(&www, "/%2Fetc%2Fpasswd").await, SiteAnswer::NotFound);
    }

    #[tokio::test]
    async fn an_encoded_slash_is_not_a_directorys_slash() {
        let www = site("encoded-slash");
        for uri in ["/about%2f", "/about%2F", "/about%2findex.html", "/about%5c"] {
            assert_eq!(answer(&www, uri).await, SiteAnswer::NotFound, "{uri}");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symbolic_link_does_not_lead_out_of_the_root() {
        let www = site("symlink");
        let base = www.parent().unwrap().to_path_buf();
        std::fs::create_dir_all(base.join("private")).unwrap();
        std::fs::write(base.join("private/index.html"), "private").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), www.join("secret.txt")).unwrap();
        std::os::unix::fs::symlink(base.join("private"), www.join("private")).unwrap();
        // A link that stays inside is followed, as static hosts do.
        std::os::unix::fs::symlink(www.join("about"), www.join("about-us")).unwrap();
        for uri in [
            "/secret.txt",
            "/private/",
            "/private/index.html",
            "/private",
        ] {
            assert_eq!(answer(&www, uri).await, SiteAnswer::NotFound, "{uri}");
        }
        assert_eq!(
            answer(&www, "/about-us/").await,
            SiteAnswer::File(www.join("about-us/index.html"))
        );
        let sent = serve(&www, "secret.txt").await;
        assert_eq!(sent.status(), StatusCode::NOT_FOUND);
    }
}
