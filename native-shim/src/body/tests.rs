use std::time::Instant;

use multistore::s3::ErrorCode;

use super::*;

#[tokio::test]
async fn a_body_that_stalls_fails_after_the_idle_time_but_a_slow_reader_is_not_cut() {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
    let inner = http_body_util::StreamBody::new(tokio_stream_of(rx));
    let mut body = IdleTimeout::new(inner, Duration::from_millis(300));
    tx.send(Ok(Frame::data(Bytes::from_static(b"ab"))))
        .await
        .unwrap();
    tx.send(Ok(Frame::data(Bytes::from_static(b"cd"))))
        .await
        .unwrap();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"ab"));
    // The reader pauses longer than the idle time: the next frame is still delivered.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = body.frame().await.unwrap().unwrap();
    assert_eq!(second.into_data().unwrap(), Bytes::from_static(b"cd"));
    // Then the backend stalls: the body fails instead of hanging or ending cleanly.
    let t0 = Instant::now();
    let stalled = body.frame().await.unwrap();
    assert!(stalled.is_err(), "a stalled body must fail");
    assert!(t0.elapsed() < Duration::from_secs(10));
    drop(tx);
}

/// An mpsc receiver as a stream of frames.
pub(crate) fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[test]
fn the_first_body_failure_is_the_one_reported() {
    let slot: Slot = Arc::default();
    record(&slot, incomplete_body("connection reset"));
    record(&slot, S3Error::internal("later"));
    let err = slot.lock().unwrap().take().unwrap();
    assert_eq!(
        err.code,
        ErrorCode::IncompleteBody,
        "the first failure wins"
    );
}
