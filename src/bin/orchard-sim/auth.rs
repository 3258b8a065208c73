//! Basic auth against the seeded service accounts and Orchard's role checks
//! (`authenticateMiddleware` + each handler's `authorize()`):
//! - credentials that are presented must be valid, or 401 with an empty body, even with
//!   `--no-auth` (as `orchard dev`);
//! - without credentials, a request passes only with `--no-auth`;
//! - a valid account lacking a role gets 401 `{"message": "all of the following roles
//!   must be present: ..."}`.
//!
//! Read-only after start; shared by request threads.

use crate::options::{ALL_ROLES, Account};

/// Who may call, decided once per request.
pub struct Auth {
    pub accounts: Vec<Account>,
    pub no_auth: bool,
}

/// Why a request is refused: an empty 401, or a 401 with Orchard's role message.
pub enum Denied {
    BadCredentials,
    MissingRoles(String),
}

impl Auth {
    /// Checks an `Authorization` header value (if any) against `roles`, all required.
    /// An empty `roles` means "any valid account" (`GET /v1/controller/info`).
    pub fn check(&self, header: Option<&str>, roles: &[&str]) -> Result<(), Denied> {
        let granted: Vec<String> = match header {
            Some(h) => {
                let account = self.account(h).ok_or(Denied::BadCredentials)?;
                account.roles.clone()
            }
            None if self.no_auth => ALL_ROLES.iter().map(|r| r.to_string()).collect(),
            None => Vec::new(),
        };
        if header.is_none() && !self.no_auth && roles.is_empty() {
            return Err(Denied::BadCredentials);
        }
        if roles.iter().all(|r| granted.iter().any(|g| g == r)) {
            Ok(())
        } else {
            Err(Denied::MissingRoles(format!(
                "all of the following roles must be present: {}",
                roles.join(", ")
            )))
        }
    }

    fn account(&self, header: &str) -> Option<&Account> {
        let encoded = header.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
        let (name, token) = decoded.split_once(':')?;
        self.accounts
            .iter()
            .find(|a| a.name == name && constant_time_eq(a.token.as_bytes(), token.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with padding (RFC 4648 §4), as HTTP Basic auth uses.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("Y").is_none());
    }
}
