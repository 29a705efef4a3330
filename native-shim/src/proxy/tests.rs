use http_body::Frame;

use super::*;
use crate::body::tests::tokio_stream_of;

#[tokio::test]
async fn a_panicking_handler_becomes_a_500_with_the_request_id() {
    let handler = async {
        if std::hint::black_box(true) {
            panic!("boom");
        }
        full(Response::new(Bytes::new()))
    };
    let resp = guarded(handler, &Method::GET, "/b/k", "0123456789ABCDEF").await;
    assert_eq!(resp.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()["x-amz-request-id"], "0123456789ABCDEF");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("<Code>InternalError</Code>") && text.contains("0123456789ABCDEF"),
        "{text}"
    );
}

/// A backend on 127.0.0.1 that reads what it gets and never answers; returns its URL.
fn silent_backend() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 4096];
                // Reads until the client goes away; never writes a byte.
                while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
            });
        }
    });
    format!("http://{addr}/bucket/key")
}

#[tokio::test]
async fn a_backend_that_never_answers_times_out() {
    let client = backend_client().unwrap();
    let url = silent_backend();
    let request = Request::get(url).body(empty()).unwrap();
    let t0 = Instant::now();
    let result = send_timed(&client, Duration::from_millis(300), request, false).await;
    assert!(matches!(result, Err(SendError::TimedOut)), "{result:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_backend_timeout_starts_only_once_a_streamed_body_is_sent() {
    let client = backend_client().unwrap();
    let url = silent_backend();
    // A body that takes longer to arrive than the timeout: the clock starts at its end.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
    let body = http_body_util::StreamBody::new(tokio_stream_of(rx)).boxed();
    let request = Request::put(url)
        .header(http::header::CONTENT_LENGTH, "2")
        .body(body)
        .unwrap();
    let sender = tokio::spawn(async move {
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await;
        }
    });
    let t0 = Instant::now();
    let result = send_timed(&client, Duration::from_millis(300), request, true).await;
    assert!(matches!(result, Err(SendError::TimedOut)), "{result:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(1000),
        "timed out while the body was still arriving: {:?}",
        t0.elapsed()
    );
    sender.await.unwrap();
}

#[tokio::test]
async fn a_small_fetch_without_an_answer_times_out() {
    let client = backend_client().unwrap();
    let request = SmallRequest {
        method: Method::GET,
        url: silent_backend(),
        headers: http::HeaderMap::new(),
        body: Bytes::new(),
        limit: 1024,
        timeout: Duration::from_millis(300),
    };
    let result = fetch_small(&client, request).await;
    assert_eq!(result, Err(FetchError::TimedOut));
}

#[tokio::test]
async fn a_refused_connection_is_a_failure_not_a_timeout() {
    let client = backend_client().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let request = Request::get(format!("http://127.0.0.1:{port}/b/k"))
        .body(empty())
        .unwrap();
    let result = send_timed(&client, Duration::from_secs(5), request, false).await;
    assert!(matches!(result, Err(SendError::Failed(_))), "{result:?}");
}
