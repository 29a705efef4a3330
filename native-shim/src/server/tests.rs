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
