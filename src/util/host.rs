//! The Host and Origin rules both listeners apply before anything else (SECURITY.md
//! promises 2 and 3): the main HTTP listener through `web::guard`, the console listener
//! in its WebSocket handshake. They live here, below both, so the console does not
//! reach up into the web layer for them.
//!
//! - `Host` must be exactly one well-formed header naming `127.0.0.1`, `localhost` or
//!   `[::1]` (any case) with the listener's port: 400 if missing, duplicated or
//!   malformed, 403 if foreign. This defeats DNS rebinding. With a non-loopback bind,
//!   the loopback names are accepted only from a loopback peer: a client on the network
//!   that sends `Host: 127.0.0.1` is lying about where it is (red team finding 1).
//! - `Origin`, when present, must be the server's own origin: 403 otherwise (`null`
//!   included). Browsers do not apply CORS to WebSockets.
//!
//! Pure functions over header values; no state, no threads.

use std::fmt;
use std::net::IpAddr;

/// Host names the server answers to, besides a non-loopback address it was bound to.
const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// Why a request's Host or Origin is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Host` header.
    MissingHost,
    /// More than one `Host` header.
    DuplicateHost,
    /// A `Host` that is not `name[:port]` or `[v6][:port]`.
    MalformedHost,
    /// A well-formed `Host` this server does not answer to (or a loopback name from the
    /// network).
    ForeignHost,
    /// An `Origin` other than the server's own, or more than one.
    ForeignOrigin,
}

impl Refused {
    /// The HTTP status SECURITY.md promises: 400 for a broken Host, 403 for a foreign one.
    pub fn status(self) -> u16 {
        match self {
            Refused::MissingHost | Refused::DuplicateHost | Refused::MalformedHost => 400,
            Refused::ForeignHost | Refused::ForeignOrigin => 403,
        }
    }

    /// The `detail` of the refusal's JSON body.
    pub fn detail(self) -> &'static str {
        match self {
            Refused::MissingHost => "missing Host header",
            Refused::DuplicateHost => "duplicate Host header",
            Refused::MalformedHost => "malformed Host header",
            Refused::ForeignHost => {
                "Host not allowed: this server only answers to 127.0.0.1, localhost and [::1]"
            }
            Refused::ForeignOrigin => "Origin not allowed",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.detail())
    }
}

/// Checks the request's `Host` header values against a listener on `port` bound to
/// `bound`, for a client at `peer`.
pub fn check_host<'a>(
    mut hosts: impl Iterator<Item = &'a str>,
    port: u16,
    bound: IpAddr,
    peer: Option<IpAddr>,
) -> Result<(), Refused> {
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => return Err(Refused::MissingHost),
        (Some(_), Some(_)) => return Err(Refused::DuplicateHost),
        (Some(h), None) => h,
    };
    let (name, host_port) = split_host(host).ok_or(Refused::MalformedHost)?;
    // A loopback bind only ever has loopback peers; otherwise a loopback name must come
    // from this machine.
    let lying = LOOPBACK_NAMES.contains(&name.to_ascii_lowercase().as_str())
        && !bound.is_loopback()
        && !peer.is_some_and(|p| p.to_canonical().is_loopback());
    if !lying && allowed_name(name, bound) && host_port.unwrap_or(80) == port {
        Ok(())
    } else {
        Err(Refused::ForeignHost)
    }
}

/// Checks the request's `Origin` header values: none, or exactly the origin of the
/// server's page (`port` is the port the page came from).
pub fn check_origin<'a>(
    mut origins: impl Iterator<Item = &'a str>,
    port: u16,
    bound: IpAddr,
) -> Result<(), Refused> {
    let ok = match (origins.next(), origins.next()) {
        (None, _) => true,
        (Some(origin), None) => is_own_origin(origin, port, bound),
        (Some(_), Some(_)) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Refused::ForeignOrigin)
    }
}

fn allowed_name(name: &str, bound: IpAddr) -> bool {
    let name = name.to_ascii_lowercase();
    if LOOPBACK_NAMES.contains(&name.as_str()) {
        return true;
    }
    // With an explicit non-loopback bind, that address is also ours.
    !bound.is_loopback() && !bound.is_unspecified() && name == host_text(bound)
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Splits `name[:port]` or `[v6][:port]`; `None` if malformed.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "-._[]:".contains(c);
    if host.is_empty() || !host.chars().all(valid_char) {
        return None;
    }
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        let rest = &host[end + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':')?)
        };
        (&host[..=end], port)
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((name, port))
}

fn is_own_origin(origin: &str, port: u16, bound: IpAddr) -> bool {
    let Some(host) = origin.strip_prefix("http://") else {
        return false;
    };
    match split_host(host) {
        Some((name, Some(p))) => p == port && allowed_name(name, bound),
        Some((name, None)) => port == 80 && allowed_name(name, bound),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(
            split_host("127.0.0.1:8000"),
            Some(("127.0.0.1", Some(8000)))
        );
        assert_eq!(split_host("[::1]:8000"), Some(("[::1]", Some(8000))));
        assert_eq!(split_host("localhost"), Some(("localhost", None)));
        assert_eq!(split_host("localhost:"), None);
        assert_eq!(split_host("localhost:99999"), None);
        assert_eq!(split_host("a b"), None);
        assert_eq!(split_host("[::1"), None);
        assert_eq!(split_host(":80"), None);
    }

    #[test]
    fn missing_duplicate_and_malformed_hosts_are_400_foreign_ones_403() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        let check = |hosts: &[&str]| check_host(hosts.iter().copied(), 8000, lo, Some(lo));
        assert_eq!(check(&[]), Err(Refused::MissingHost));
        assert_eq!(
            check(&["localhost:8000", "localhost:8000"]),
            Err(Refused::DuplicateHost)
        );
        assert_eq!(check(&["local host:8000"]), Err(Refused::MalformedHost));
        assert_eq!(check(&["example.com:8000"]), Err(Refused::ForeignHost));
        assert_eq!(check(&["localhost:8001"]), Err(Refused::ForeignHost));
        assert_eq!(check(&["LOCALHOST:8000"]), Ok(()));
        for broken in [
            Refused::MissingHost,
            Refused::DuplicateHost,
            Refused::MalformedHost,
        ] {
            assert_eq!(broken.status(), 400, "{broken}");
        }
        assert_eq!(Refused::ForeignHost.status(), 403);
        assert_eq!(Refused::ForeignOrigin.status(), 403);
    }

    #[test]
    fn with_a_non_loopback_bind_loopback_names_come_only_from_loopback_peers() {
        let lan = IpAddr::from([192, 0, 2, 1]);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let mapped_lo: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let wild = IpAddr::from([0, 0, 0, 0]);
        let far = Some(IpAddr::from([198, 51, 100, 7]));
        let host_ok =
            |host: &str, bound, peer| check_host(std::iter::once(host), 8000, bound, peer);
        // The network lying about where it is: refused.
        assert!(host_ok("127.0.0.1:8000", lan, far).is_err());
        assert!(host_ok("localhost:8000", wild, far).is_err());
        assert!(host_ok("[::1]:8000", lan, None).is_err());
        // The bound address itself from the network, and loopback from this machine.
        assert!(host_ok("192.0.2.1:8000", lan, far).is_ok());
        assert!(host_ok("127.0.0.1:8000", lan, Some(lo)).is_ok());
        assert!(host_ok("localhost:8000", wild, Some(mapped_lo)).is_ok());
        assert!(host_ok("127.0.0.1:8000", lo, Some(lo)).is_ok());
    }

    #[test]
    fn origins() {
        let lo = IpAddr::from([127, 0, 0, 1]);
        assert!(is_own_origin("http://127.0.0.1:8000", 8000, lo));
        assert!(is_own_origin("http://LOCALHOST:8000", 8000, lo));
        assert!(!is_own_origin("http://127.0.0.1:8001", 8000, lo));
        assert!(!is_own_origin("null", 8000, lo));
        assert!(!is_own_origin("http://127.0.0.1.evil.com:8000", 8000, lo));
        assert!(!is_own_origin("https://127.0.0.1:8000", 8000, lo));
        assert!(!is_own_origin("http://localhost:8000/", 8000, lo));
        let two = ["http://127.0.0.1:8000", "http://127.0.0.1:8000"];
        assert_eq!(
            check_origin(two.into_iter(), 8000, lo),
            Err(Refused::ForeignOrigin)
        );
        assert_eq!(check_origin(std::iter::empty(), 8000, lo), Ok(()));
    }
}
