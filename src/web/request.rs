//! The parts of a request the guard, the router and the handlers look at, taken from
//! tiny_http's request once per request.

use crate::util::target::Target;

/// The parts of a request the guard and handlers look at.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: tiny_http::Method,
    pub target: Target,
    /// Header names lower-cased, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The client's address (`None` only for a connection that has none).
    pub peer: Option<std::net::IpAddr>,
}

impl Head {
    pub fn from_request(rq: &tiny_http::Request) -> Head {
        Head {
            method: rq.method().clone(),
            target: Target::parse(rq.url()).unwrap_or_default(),
            headers: rq
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_string(),
                    )
                })
                .collect(),
            peer: rq.remote_addr().map(|a| a.ip()),
        }
    }

    /// Every value of a header (name in lower case).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a `Connection` header asks for an upgrade (tiny_http then hands over the
    /// raw socket as the body).
    pub fn wants_upgrade(&self) -> bool {
        self.header_values("connection")
            .any(|v| v.to_ascii_lowercase().contains("upgrade"))
    }

    /// The first value of a header (name in lower case).
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
    }
}
