//! Accept loop and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::args::Args;
use crate::proxy::Proxy;
use crate::reload::Reloader;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of a request head (request line and headers). S3 itself takes 8 KiB of headers;
/// presigned URLs with session tokens and Azure upload ids (up to ~6 KiB in the query) need more,
/// and Cloudflare's edge takes 128 KiB of headers (16 KiB of URL). A longer head: 431.
pub const MAX_HEAD_BYTES: usize = 64 << 10;
/// Most header fields in a request head (hyper's default, set here so it is a decision). More:
/// 431.
pub const MAX_HEADERS: usize = 100;

/// How long in-flight requests may run after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until SIGTERM or SIGINT, then drains in-flight requests (at most 30 s); `reloader`
/// keeps its isolate's gateway (loaded already) in step with the config file meanwhile.
pub async fn serve(args: &Args, reloader: Reloader) -> Result<(), String> {
    let listen = &args.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let isolate = reloader.isolate.clone();
    let buckets = isolate.current().map_or(0, |g| g.config().buckets.len());
    let proxy = Arc::new(Proxy::new(isolate)?);
    reloader.spawn();
    // The bound address, not the requested one: `--listen 127.0.0.1:0` shows its port.
    let local = listener
        .local_addr()
        .map_or_else(|_| listen.clone(), |a| a.to_string());
    log::info!(
        "multistore-server {} listening on {local}, {buckets} bucket(s){}",
        env!("CARGO_PKG_VERSION"),
        args.domain
            .as_deref()
            .map(|d| format!(", virtual-hosted under {d}"))
            .unwrap_or_default()
    );
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        log::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Small responses must not wait for Nagle (the reference proxy's +40 ms at p99).
                let _ = stream.set_nodelay(true);
                let proxy = proxy.clone();
                let service = service_fn(move |req| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, std::convert::Infallible>(proxy.handle(req).await) }
                });
                let conn = http1_builder().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        log::debug!("connection from {peer} ended: {e}");
                    }
                });
            }
            () = &mut shutdown => {
                log::info!("shutting down: draining in-flight requests (at most {}s)", DRAIN_TIMEOUT.as_secs());
                break;
            }
        }
    }
    drop(listener);
    // Our signal handlers replaced the default ones, so a second Ctrl-C must be honoured here.
    tokio::select! {
        drained = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()) => {
            if drained.is_err() {
                log::warn!(
                    "some requests were still running after {}s; stopping anyway",
                    DRAIN_TIMEOUT.as_secs()
                );
            }
        }
        () = shutdown_signal() => log::warn!("second signal: stopping without waiting for in-flight requests"),
    }
    Ok(())
}

/// The HTTP/1 connection settings. A client that never finishes its request head must not hold
/// a connection forever (30 s), nor have it buffered without bound: a complete head over
/// [`MAX_HEAD_BYTES`] or with more than [`MAX_HEADERS`] fields is answered 431 and the connection
/// closed; an incomplete one stops being read at hyper's buffer cap (~400 KiB: 431 too).
fn http1_builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    b
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// Serves one connection with [`http1_builder`] (every request answered 200) and returns
    /// the status line the client gets for `head`.
    async fn status_for(head: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // The server may answer and close before all of an oversized head is written.
            let _ = s.write_all(&head);
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string()
        });
        let (stream, _) = listener.accept().await.unwrap();
        let service = service_fn(|_req| async {
            Ok::<_, std::convert::Infallible>(hyper::Response::new(String::new()))
        });
        let _ = http1_builder()
            .serve_connection(TokioIo::new(stream), service)
            .await;
        tokio::task::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap()
    }

    fn head_with(headers: &[(String, String)]) -> Vec<u8> {
        let mut h = String::from("GET /b/k HTTP/1.1\r\nhost: x\r\nconnection: close\r\n");
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    #[tokio::test]
    async fn an_oversized_request_head_is_answered_431_not_buffered() {
        let big = vec![("x-amz-meta-a".to_string(), "v".repeat(MAX_HEAD_BYTES))];
        assert!(status_for(head_with(&big)).await.contains(" 431 "));
        let many: Vec<_> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-h{i}"), "v".to_string()))
            .collect();
        assert!(status_for(head_with(&many)).await.contains(" 431 "));
        // A head that never ends stops being read at the buffer cap.
        let mut endless = b"GET /b/k HTTP/1.1\r\nx-amz-meta-a: ".to_vec();
        endless.resize(1 << 20, b'v');
        assert!(status_for(endless).await.contains(" 431 "));
    }

    #[tokio::test]
    async fn a_large_but_allowed_request_head_is_served() {
        let ok = vec![("x-amz-meta-a".to_string(), "v".repeat(32 << 10))];
        assert!(status_for(head_with(&ok)).await.contains(" 200 "));
    }
}
