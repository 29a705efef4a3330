//! Accept loop and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use multistore::Gateway;
use tokio::net::TcpListener;

use crate::args::Args;
use crate::proxy::Proxy;

/// How long a client may take to send its request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long in-flight requests may run after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until SIGTERM or SIGINT, then drains in-flight requests (at most 30 s).
pub async fn serve(args: &Args, gateway: Arc<Gateway>) -> Result<(), String> {
    let listen = &args.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let buckets = gateway.config().buckets.len();
    let proxy = Arc::new(Proxy::new(gateway)?);
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
                // A client that never finishes its request head must not hold a connection forever.
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
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
