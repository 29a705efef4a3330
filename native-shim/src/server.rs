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
use multistore::executor::ConfigFiles;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of a request head (request line and headers). S3 itself takes 8 KiB of headers;
/// presigned URLs with session tokens and Azure upload ids (up to ~6 KiB in the query) need more,
/// and Cloudflare's edge takes 128 KiB of headers (16 KiB of URL). A longer head: 431.
pub(crate) const MAX_HEAD_BYTES: usize = 64 << 10;
/// Most header fields in a request head (hyper's default, set here so it is a decision). More:
/// 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// How long in-flight requests may run after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until SIGTERM or SIGINT, then drains in-flight requests (at most 30 s); `reloader`
/// keeps its isolate's gateway (loaded already) in step with the config file meanwhile.
pub(crate) async fn serve(args: &Args, reloader: ConfigFiles) -> Result<(), String> {
    let listen = &args.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let isolate = reloader.isolate.clone();
    let buckets = isolate.current().map_or(0, |g| g.config().buckets.len());
    let proxy = Arc::new(Proxy::new(isolate)?);
    crate::reload::spawn(reloader);
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
mod tests;
