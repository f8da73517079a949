//! The HTTP transport against hostile clients: metric labels from closed sets, header and
//! body deadlines, idle keep-alive connections, and the connection limit (real binary,
//! real sockets on 127.0.0.1, short configured timeouts).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};

use crate::support::{cli_token, Server, TestApp};

/// Label values `kaledger_http_requests_total` may carry for `method`.
const KNOWN_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_labels_come_from_closed_sets() {
    // Proves requests with 500 distinct 2,000-character methods and unknown paths add no
    // label values: /metrics names only known methods, `other`, route templates and
    // `unmatched`, and stays small.
    let app = TestApp::new().await;
    for i in 0..500 {
        let method = format!("M{i:04}{}", "X".repeat(1995));
        let method = Method::from_bytes(method.as_bytes()).expect("extension method");
        let path = format!("/no/such/path/{i}");
        let reply = app.send(method, &path, None, &[], Vec::new()).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
    }
    let reply = app
        .send(Method::GET, "/metrics", None, &[], Vec::new())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.text.len() < 64 * 1024,
        "/metrics is {} bytes",
        reply.text.len()
    );
    for line in reply
        .text
        .lines()
        .filter(|l| l.starts_with("kaledger_http_request"))
    {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no method label in {line}"));
        assert!(
            KNOWN_METHODS.contains(&method),
            "method label {method:?} in {line}"
        );
        let route = line
            .split("route=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no route label in {line}"));
        assert!(
            route == "unmatched" || route.starts_with('/'),
            "route label {route:?} in {line}"
        );
        assert!(
            !route.contains("/no/such/path"),
            "raw path as a label: {line}"
        );
    }
}

/// How long a socket read in these tests may block before the test fails.
const SOCKET_SECONDS_MAX: u64 = 10;

/// A connection to the server at `base` (`http://127.0.0.1:port`).
fn connect(base: &str) -> TcpStream {
    let address = base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(SOCKET_SECONDS_MAX)))
        .expect("read timeout");
    stream
}

/// Reads until the server closes the connection; what it sent and when it closed.
fn read_until_closed(stream: &mut TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
    (
        String::from_utf8_lossy(&received).to_string(),
        Instant::now(),
    )
}

/// Sends one byte every 100 ms until a write fails (the server closed) or `seconds` pass;
/// how long the server let it go on.
fn trickle(stream: &mut TcpStream, seconds: u64) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        if stream.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// A served GET /healthz on a fresh connection: the status line.
fn healthz_status(base: &str) -> String {
    let mut stream = connect(base);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .expect("write");
    let (reply, _) = read_until_closed(&mut stream);
    reply.lines().next().unwrap_or("").to_string()
}

#[test]
fn a_header_trickle_is_cut_at_the_header_timeout() {
    // Proves a client sending its request head one byte at a time is disconnected once the
    // header timeout (500 ms here) passes, long before its 8-second trickle ends.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--header-timeout-ms", "500"]);
    let mut stream = connect(&server.base);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nx-slow: ")
        .expect("write");
    let lasted = trickle(&mut stream, 8);
    assert!(
        lasted < Duration::from_secs(4),
        "the trickle went on for {lasted:?}"
    );
    assert!(
        lasted >= Duration::from_millis(400),
        "cut before the timeout: {lasted:?}"
    );
    server.stop();
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    // Proves a kept-alive connection that sends nothing after its first response is closed
    // by the server after the header timeout (which starts when the connection goes idle).
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), &["--header-timeout-ms", "500"]);
    let mut stream = connect(&server.base);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .expect("write");
    let answered = Instant::now();
    let (reply, closed) = read_until_closed(&mut stream);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let idle = closed - answered;
    assert!(
        idle >= Duration::from_millis(400),
        "closed too early: {idle:?}"
    );
    assert!(
        idle < Duration::from_secs(4),
        "idle connection kept for {idle:?}"
    );
    server.stop();
}

#[test]
fn a_trickled_body_gets_408() {
    // Proves a request body that does not arrive within the body timeout (500 ms here) is
    // answered 408 body_timeout and the connection is closed, while the client trickles.
    let dir = tempfile::tempdir().expect("temp dir");
    let token = cli_token(dir.path(), "ingest", "ingest");
    let server = Server::start_with(dir.path(), &["--body-timeout-ms", "500"]);
    let mut stream = connect(&server.base);
    let head = format!("POST /v1/sales HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"lines\":[");
    stream.write_all(head.as_bytes()).expect("write");
    let mut writer = stream.try_clone().expect("clone");
    let trickler = std::thread::spawn(move || trickle(&mut writer, 8));
    let (reply, _) = read_until_closed(&mut stream);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"code\":\"body_timeout\""), "{reply}");
    let lasted = trickler.join().expect("trickler");
    assert!(
        lasted < Duration::from_secs(6),
        "the body trickle went on for {lasted:?}"
    );
    server.stop();
}

#[test]
fn beyond_the_connection_limit_idle_connections_make_room_and_busy_ones_refuse() {
    // Proves the connection limit (3 here): idle connections are closed to make room, so
    // /healthz still answers while the limit is held by idle sockets; when every connection
    // has a request in flight a new one gets an immediate 503 too_many_connections; once a
    // busy one ends, /healthz answers again.
    let dir = tempfile::tempdir().expect("temp dir");
    let token = cli_token(dir.path(), "ingest", "ingest");
    let server = Server::start_with(
        dir.path(),
        &[
            "--max-connections",
            "3",
            "--body-timeout-ms",
            "20000",
            "--header-timeout-ms",
            "20000",
        ],
    );
    let mut idle: Vec<TcpStream> = (0..3).map(|_| connect(&server.base)).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(healthz_status(&server.base), "HTTP/1.1 200 OK");
    let (_, _) = read_until_closed(&mut idle[0]);

    // Three requests whose bodies never come hold every connection busy.
    let head = format!("POST /v1/sales HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n");
    let mut busy: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = connect(&server.base);
            s.write_all(head.as_bytes()).expect("write");
            s
        })
        .collect();
    // Time for the three heads to reach their handlers (a connection still sending its head
    // is idle, and the next connection would evict it instead of being refused).
    std::thread::sleep(Duration::from_millis(1000));
    let started = Instant::now();
    let mut refused = connect(&server.base);
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n");
    let (reply, closed) = read_until_closed(&mut refused);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(
        reply.contains("\"code\":\"too_many_connections\""),
        "{reply}"
    );
    assert!(
        closed - started < Duration::from_secs(2),
        "refusal took {:?}",
        closed - started
    );

    drop(busy.pop());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(healthz_status(&server.base), "HTTP/1.1 200 OK");
    drop(busy);
    drop(idle);
    server.stop();
}
