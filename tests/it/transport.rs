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
