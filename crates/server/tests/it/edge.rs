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
async fn closed_within(
    conn: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> Option<Duration> {
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
    let slow = TcpStream::connect(addr(&s)).await.unwrap();
    let (mut read, mut write) = slow.into_split();
    write
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // It keeps trickling a header now and then, never the blank line.
    let trickle = tokio::spawn(async move {
        for i in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    // The server ends the connection (end of stream or reset: nothing
    // else counts) well within 2 s of a 500 ms header timeout.
    let closed = closed_within(&mut read, Duration::from_secs(2)).await;
    trickle.abort();
    assert!(
        closed.is_some(),
        "the slow client was still connected {:?} after its head started",
        started.elapsed()
    );
    // Every other client is served meanwhile.
    assert_eq!(s.send(s.client.get(s.url("/healthz"))).await.status, 200);
}

/// The head of a login whose body (100 bytes announced) stops after one.
const STALLED_LOGIN: &[u8] = b"POST /v1/login HTTP/1.1\r\nHost: x\r\n\
    Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{";

#[tokio::test]
async fn stalled_bodies_filling_the_connection_cap_keep_nobody_out_past_the_body_timeout() {
    const CAP: usize = 16;
    const BODY_TIMEOUT: Duration = Duration::from_secs(2);
    let s = Setup::new(Kind::SqliteToken)
        .config(|c| {
            c.http.header_timeout = Duration::from_secs(30);
            c.http.max_connections = CAP;
            c.http.body_timeout = BODY_TIMEOUT;
        })
        .server()
        .await
        .unwrap();
    s.seed("alice", "user").await;
    // Every slot is taken by a client that sent a login's head and one
    // byte of its body.
    let mut stalled = Vec::new();
    for _ in 0..CAP {
        let mut c = TcpStream::connect(addr(&s)).await.unwrap();
        c.write_all(STALLED_LOGIN).await.unwrap();
        stalled.push((c, Instant::now()));
    }
    // The cap is full: a probe is not served.
    let mut probe = TcpStream::connect(addr(&s)).await.unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), probe.read(&mut buf)).await;
    assert!(early.is_err(), "the cap was not full");
    // A fresh client's login gets in once the stalled bodies time out.
    let started = Instant::now();
    let login = tokio::time::timeout(
        BODY_TIMEOUT + Duration::from_secs(1),
        s.client
            .post(s.url("/v1/login"))
            .json(&serde_json::json!({"username": "alice", "password": passcard_testkit::PASSWORD}))
            .send(),
    )
    .await;
    let waited = started.elapsed();
    let login = login.unwrap_or_else(|_| {
        panic!(
            "with the cap full of stalled bodies, a fresh login was still waiting after {waited:?}"
        )
    });
    assert_eq!(login.unwrap().status(), 200);
    eprintln!(
        "\n*** edge: with {CAP} stalled bodies holding every slot, a fresh login waited {waited:?} (body timeout {BODY_TIMEOUT:?}) ***\n"
    );
    // Each stalled client got a 408 and its connection closed.
    for (mut c, sent) in stalled {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            (BODY_TIMEOUT + Duration::from_secs(1)).saturating_sub(sent.elapsed()),
            c.read_to_end(&mut answer),
        )
        .await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "a stalled client was not disconnected: {read:?}"
        );
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("application/problem+json"), "{answer}");
        assert!(
            answer.contains("urn:passcard:problem:request-timeout"),
            "{answer}"
        );
    }
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
