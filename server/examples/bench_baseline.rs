//! `make bench`'s baseline: the smallest axum server that answers
//! `GET /api/chathub/token` with a fixed JSON body of a given size, so the
//! token server's throughput can be compared with "axum doing nothing".
//!
//! `bench_baseline PORT BODY_BYTES`

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

fn body_of(size: usize) -> String {
    // {"token":"xxx…","expiresAt":"2026-01-01T00:00:00Z"}
    let head = r#"{"token":""#;
    let tail = r#"","expiresAt":"2099-01-01T00:00:00Z"}"#;
    let fill = size.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "x".repeat(fill))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: bench_baseline PORT BODY_BYTES");
    let size: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: bench_baseline PORT BODY_BYTES");
    let body: &'static str = Box::leak(body_of(size).into_boxed_str());
    let app = Router::new().route(
        "/api/chathub/token",
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!(
        "bench_baseline listening on 127.0.0.1:{port}, {} byte body",
        body.len()
    );
    axum::serve(listener, app).await.expect("serve");
}
