//! The request guard: runs before routing, in this order, and refuses with the first
//! failure (SECURITY.md promises 2-4):
//!
//! 1. `Host` must be exactly one well-formed header naming `127.0.0.1`, `localhost` or
//!    `[::1]` (any case) with the server's port: 400 if missing, duplicated or malformed,
//!    403 if foreign. This defeats DNS rebinding. With a non-loopback bind, the loopback
//!    names are accepted only from a loopback peer: a client on the network that sends
//!    `Host: 127.0.0.1` is lying about where it is (red team finding 1).
//! 2. `Origin`, when present on `/api/*` or `/ws/*`, must be this server's own origin:
//!    403 otherwise (`null` included). Browsers do not apply CORS to WebSockets.
//! 3. The token: `X-Local-Token` on `/api/*` (never a cookie or query), `?token=` on
//!    `/ws/*`, compared in constant time; missing, empty and wrong all get one 401.

use std::net::IpAddr;

use super::error::Error;
use super::request::Head;
use super::routes::Area;
use crate::util::token::constant_time_eq;

/// Host names the server answers to, besides a non-loopback address it was bound to.
const LOOPBACK_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// Checks Host, Origin and token for a request to `area`.
pub fn check(head: &Head, area: Area, port: u16, bound: IpAddr, token: &str) -> Result<(), Error> {
    check_host(head, port, bound, head.peer)?;
    if area != Area::Ui {
        check_origin(head, port, bound)?;
    }
    match area {
        Area::Api => {
            let mut values = head.header_values("x-local-token");
            let (Some(given), None) = (values.next(), values.next()) else {
                return Err(Error::Unauthorized);
            };
            token_matches(given, token)
        }
        Area::WebSocket => token_matches(head.target.param("token").unwrap_or(""), token),
        Area::Ui => Ok(()),
    }
}

fn token_matches(given: &str, token: &str) -> Result<(), Error> {
    if !given.is_empty() && constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(Error::Unauthorized)
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

pub(crate) fn check_host(
    head: &Head,
    port: u16,
    bound: IpAddr,
    peer: Option<IpAddr>,
) -> Result<(), Error> {
    let mut hosts = head.header_values("host");
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => return Err(Error::BadRequest("missing Host header".into())),
        (Some(_), Some(_)) => return Err(Error::BadRequest("duplicate Host header".into())),
        (Some(h), None) => h,
    };
    let (name, host_port) =
        split_host(host).ok_or_else(|| Error::BadRequest("malformed Host header".into()))?;
    // A loopback bind only ever has loopback peers; otherwise a loopback name must come
    // from this machine.
    let lying = LOOPBACK_NAMES.contains(&name.to_ascii_lowercase().as_str())
        && !bound.is_loopback()
        && !peer.is_some_and(|p| p.to_canonical().is_loopback());
    if !lying && allowed_name(name, bound) && host_port.unwrap_or(80) == port {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Host not allowed: this server only answers to 127.0.0.1, localhost and [::1]".into(),
        ))
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

pub(crate) fn check_origin(head: &Head, port: u16, bound: IpAddr) -> Result<(), Error> {
    let mut origins = head.header_values("origin");
    let ok = match (origins.next(), origins.next()) {
        (None, _) => true,
        (Some(origin), None) => is_own_origin(origin, port, bound),
        (Some(_), Some(_)) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Forbidden("Origin not allowed".into()))
    }
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
    fn with_a_non_loopback_bind_loopback_names_come_only_from_loopback_peers() {
        let lan = IpAddr::from([192, 0, 2, 1]);
        let lo = IpAddr::from([127, 0, 0, 1]);
        let mapped_lo: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let wild = IpAddr::from([0, 0, 0, 0]);
        let far = Some(IpAddr::from([198, 51, 100, 7]));
        let head = |host: &str, peer| Head {
            method: tiny_http::Method::Get,
            target: Default::default(),
            headers: vec![("host".into(), host.into())],
            peer,
        };
        let host_ok = |host: &str, bound, peer| check_host(&head(host, peer), 8000, bound, peer);
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
    }
}
