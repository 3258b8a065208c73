//! Where the controller is and how to reach it: the parsed URL, the service account and
//! its token, and the transport (plain HTTP over `TcpStream`, or `curl` for TLS).
//!
//! Immutable after start; shared by every thread that talks to the controller.

use std::fmt;
use std::path::PathBuf;

/// Orchard's default controller port (`netconstants`).
pub const DEFAULT_PORT: u16 = 6120;

/// The host name Orchard's self-signed controller certificate is issued for (its only
/// SAN). A pinned TLS connection verifies against this name, not the URL's host.
pub const CERT_HOST: &str = "orchard-controller";

/// How requests travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/1.1 over std's `TcpStream` (`orchard dev`, `--insecure-no-tls` controllers).
    Plain,
    /// `curl` as a child process: TLS, trusting `cert` only when given (pinned to the
    /// controller's own certificate and verified as [`CERT_HOST`]), else the system roots.
    Curl { cert: Option<PathBuf> },
}

/// A controller endpoint.
#[derive(Clone)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// An `--api-prefix`, without a trailing slash (usually empty).
    pub prefix: String,
    /// The service account; `None` sends no credentials (`orchard dev`).
    pub account: Option<String>,
    pub token: Option<String>,
    pub transport: Transport,
}

impl fmt::Debug for Endpoint {
    // Never prints the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.url())
    }
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]` or `https://...` (a bare host means https, as
    /// Orchard's CLI assumes). `https` uses curl; `force_curl` uses it for http too.
    pub fn parse(
        url: &str,
        account: Option<String>,
        token: Option<String>,
        cert: Option<PathBuf>,
        force_curl: bool,
    ) -> Result<Endpoint, String> {
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("https".to_string(), url),
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "the Orchard URL must start with http:// or https://, not {url:?}"
            ));
        }
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h,
                p.parse()
                    .map_err(|_| format!("bad port in the Orchard URL {url:?}"))?,
            ),
            _ => (authority, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['@', ' ', '?', '#']) {
            return Err(format!("bad host in the Orchard URL {url:?}"));
        }
        if account.is_some() != token.is_some() {
            return Err("an Orchard service account needs both its name and its token".into());
        }
        let transport = if scheme == "https" || force_curl {
            Transport::Curl { cert }
        } else {
            Transport::Plain
        };
        Ok(Endpoint {
            scheme,
            host: host.to_string(),
            port,
            prefix: prefix.to_string(),
            account,
            token,
            transport,
        })
    }

    /// The controller URL as the user would recognise it (no credentials).
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{host}:{}{}", self.scheme, self.port, self.prefix)
    }

    /// The path of API route `route` (starting with `/v1`), with the prefix.
    pub fn path(&self, route: &str) -> String {
        format!("{}{route}", self.prefix)
    }

    /// `Basic <base64(account:token)>`, when there is an account.
    pub fn authorization(&self) -> Option<String> {
        let (a, t) = (self.account.as_ref()?, self.token.as_ref()?);
        Some(format!("Basic {}", base64(format!("{a}:{t}").as_bytes())))
    }
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials.
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_like_orchards_cli() {
        let e = Endpoint::parse("http://127.0.0.1:6121", None, None, None, false).unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.transport.clone()),
            ("127.0.0.1", 6121, Transport::Plain)
        );
        let e = Endpoint::parse("ctl.example", None, None, None, false).unwrap();
        assert_eq!(e.url(), "https://ctl.example:6120");
        assert!(matches!(e.transport, Transport::Curl { .. }));
        let e = Endpoint::parse("http://h/orchard/", None, None, None, false).unwrap();
        assert_eq!(e.path("/v1/vms"), "/orchard/v1/vms");
        assert!(Endpoint::parse("ftp://h", None, None, None, false).is_err());
        assert!(Endpoint::parse("http://h:x", None, None, None, false).is_err());
        assert!(Endpoint::parse("http://h", Some("a".into()), None, None, false).is_err());
    }

    #[test]
    fn basic_credentials_are_base64() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let e = Endpoint::parse(
            "http://h:1",
            Some("a".into()),
            Some("s3cret".into()),
            None,
            false,
        )
        .unwrap();
        assert!(!format!("{e:?}").contains("s3cret"));
    }
}
