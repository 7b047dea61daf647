//! The HTTP edge over real connections: slow clients, idle connections,
//! the connection cap.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use passcard_testkit::{Kind, Setup, TestServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn server(header_timeout: Duration, max_connections: usize) -> TestServer {
    Setup::new(Kind::SqliteToken)
        .config(move |c| {
            c.http.header_timeout = header_timeout;
            c.http.max_connections = max_connections;
        })
        .server()
        .await
        .unwrap()
}

fn addr(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection: how long it took, or
/// `None` if it was still open after `limit`. What was read is dropped.
async fn closed_within(conn: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) => return Some(started.elapsed()),
            Ok(Err(e)) if e.kind() == ErrorKind::ConnectionReset => return Some(started.elapsed()),
            Ok(Err(e)) => panic!("{e}"),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let s = server(Duration::from_millis(500), 64).await;
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // It keeps trickling a header now and then, never the blank line.
    let trickle = async {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let started = Instant::now();
    trickle.await;
    let mut rest = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut rest)).await;
    let gone = matches!(read, Ok(Ok(0) | Err(_))) || matches!(read, Ok(Ok(n)) if n > 0);
    assert!(
        gone && started.elapsed() < Duration::from_secs(6),
        "the slow client was still connected after {:?}",
        started.elapsed()
    );
    // Every other client is served meanwhile.
    assert_eq!(s.send(s.client.get(s.url("/healthz"))).await.status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = server(Duration::from_millis(500), 64).await;
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = closed_within(&mut conn, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "an idle keep-alive connection stayed open"
    );
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_and_nothing_breaks() {
    let s = server(Duration::from_secs(30), 2).await;
    // Two idle connections take both slots.
    let first = TcpStream::connect(addr(&s)).await.unwrap();
    let _second = TcpStream::connect(addr(&s)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third is not served while they hold them...
    let mut third = TcpStream::connect(addr(&s)).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap");
    // ...a flood of more waits in the backlog without harm...
    let mut flood = Vec::new();
    for _ in 0..50 {
        flood.push(TcpStream::connect(addr(&s)).await.unwrap());
    }
    // ...and once a slot frees up, it is served.
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("not served after a slot freed up")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(flood);
    drop(_second);
    let ok = passcard_testkit::poll_until(Duration::from_secs(10), || async {
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ok.is_some(), "the server stopped serving");
}
