//! The request guard: runs before routing, in this order, and refuses with the first
//! failure (SECURITY.md promises 2-4):
//!
//! 1. `Host`: the rules of `util::host` (shared with the console listener), with this
//!    server's port; 400 if missing, duplicated or malformed, 403 if foreign.
//! 2. `Origin`, when present on `/api/*` or `/ws/*`, must be this server's own origin:
//!    403 otherwise (`null` included). Browsers do not apply CORS to WebSockets.
//! 3. The token: `X-Local-Token` on `/api/*` (never a cookie or query), `?token=` on
//!    `/ws/*`, compared in constant time; missing, empty and wrong all get one 401.

use std::net::IpAddr;

use super::error::Error;
use super::request::Head;
use crate::util::host::{check_host, check_origin};
use crate::util::token::constant_time_eq;

/// Which guard rules a request falls under; the route table (`routes.rs`) gives each
/// route its area, and `routes::area_of` the area of any path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `/api/...`: Host, Origin and the `X-Local-Token` header.
    Api,
    /// `/ws/...`: Host, Origin and the `?token=` parameter.
    WebSocket,
    /// The page and its assets: Host only.
    Ui,
}

/// Checks Host, Origin and token for a request to `area`.
pub fn check(head: &Head, area: Area, port: u16, bound: IpAddr, token: &str) -> Result<(), Error> {
    check_host(head.header_values("host"), port, bound, head.peer)?;
    if area != Area::Ui {
        check_origin(head.header_values("origin"), port, bound)?;
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
