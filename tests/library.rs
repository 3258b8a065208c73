//! Embedding: a program starts the server from Rust on port 0, learns its address, and
//! stops it with every owned thread joined.

mod support;

use std::time::{Duration, Instant};

use support::{Client, TempDir};

#[test]
fn embedded_server_starts_on_port_zero_and_shuts_down() {
    let dir = TempDir::new("lib");
    let mut config = taartenfabriek::Config::with_home(dir.path().to_path_buf());
    config.port = 0;
    config.tart = support::sim_bin();
    config.refresh_interval = Some(Duration::from_millis(200));
    config.tart_env.push((
        "TART_HOME".into(),
        dir.path().join("tart-home").into_os_string(),
    ));
    let server = taartenfabriek::Server::start(config).expect("start");
    assert_ne!(server.addr().port(), 0);
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.url(), format!("http://{}", server.addr()));
    assert_eq!(server.data_dir(), dir.path().join(".tartvm-manager"));
    let token = std::fs::read_to_string(server.data_dir().join("token")).unwrap();
    assert_eq!(token.trim(), server.token());
    let client = Client {
        addr: server.addr(),
        token: Some(server.token().to_string()),
    };
    assert_eq!(client.request("GET", "/api/health", &[], None).status, 200);
    assert_eq!(
        client.request("GET", "/api/tart/version", &[], None).json()["version"],
        "2.32.1"
    );

    // shutdown() returns once the server's threads are joined; afterwards nothing listens.
    let addr = server.addr();
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < support::EVENTUALLY, "shutdown finished");
    // tiny_http closes its listener once its accept thread notices; allow it a moment.
    support::eventually("nothing listens any more", || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .is_err()
            .then_some(())
    });
}

#[test]
fn refusing_a_non_loopback_address_without_the_opt_in() {
    let dir = TempDir::new("lib-expose");
    let mut config = taartenfabriek::Config::with_home(dir.path().to_path_buf());
    config.host = "0.0.0.0".parse().unwrap();
    config.port = 0;
    match taartenfabriek::Server::start(config) {
        Err(taartenfabriek::StartError::Exposure(msg)) => assert!(msg.contains("0.0.0.0")),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a non-loopback bind needs the explicit opt-in"),
    }
}

/// A newcomer whose port 8000 is taken learns which port and which flag to change.
#[test]
fn a_busy_port_is_named_with_the_flag_that_changes_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("lib-busy");
    let mut config = taartenfabriek::Config::with_home(dir.path().to_path_buf());
    config.port = port;
    match taartenfabriek::Server::start(config) {
        Err(e @ taartenfabriek::StartError::PortInUse(_)) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("port {port}")), "{msg}");
            assert!(msg.contains("--port"), "{msg}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the port is taken"),
    }
}
