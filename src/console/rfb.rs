//! The RFB (VNC) handshake, both halves of it (RFC 6143 §7.1–7.2):
//!
//! - towards tart's VNC server the server is the client: it agrees a version, answers
//!   the VNC-authentication challenge with the password tart printed, and reads the
//!   result;
//! - towards the browser the server is the server: it offers RFB 3.8 with security type
//!   None, so the page never needs (or sees) the password.
//!
//! After both, the two streams are joined byte for byte (`proxy`), starting with the
//! browser's ClientInit. Blocking calls on one thread; no shared state.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use super::des::vnc_response;

/// Security type 1, "None".
const SECURITY_NONE: u8 = 1;
/// Security type 2, "VNC Authentication".
const SECURITY_VNC_AUTH: u8 = 2;

/// Longest failure reason read from a VNC server (4 KiB); a longer one is cut.
const MAX_REASON_BYTES: u32 = 4 * 1024;

/// Where tart's VNC server listens and its password, from the URL tart printed.
#[derive(Clone, PartialEq, Eq)]
pub struct VncTarget {
    pub addr: SocketAddr,
    pub password: String,
}

impl fmt::Debug for VncTarget {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VncTarget({})", self.addr)
    }
}

impl VncTarget {
    /// Parses `vnc://:<password>@<loopback IPv4>:<port>`, the form `tart run
    /// --vnc-experimental` prints. `None` for anything else: a `vnc://<guest IP>` URL
    /// (from `--vnc`) names the guest's own VNC server, which the console does not use.
    pub fn from_url(url: &str) -> Option<VncTarget> {
        let rest = url.strip_prefix("vnc://")?;
        let (userinfo, hostport) = rest.rsplit_once('@')?;
        let password = userinfo.strip_prefix(':').unwrap_or(userinfo);
        let addr: SocketAddr = hostport.trim_end_matches('/').parse().ok()?;
        let loopback = matches!(addr.ip(), IpAddr::V4(v4) if v4.is_loopback());
        (loopback && addr.port() != 0 && !password.is_empty()).then(|| VncTarget {
            addr,
            password: password.to_string(),
        })
    }
}

/// Why the handshake with the VNC server failed.
#[derive(Debug)]
pub enum RfbError {
    /// The connection failed or broke.
    Io(io::Error),
    /// The server said something this client does not speak, or refused with a reason.
    Protocol(String),
    /// The server rejected the password.
    AuthFailed(String),
}

impl fmt::Display for RfbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RfbError::Io(e) => write!(f, "cannot talk to the VM's VNC server: {e}"),
            RfbError::Protocol(m) => write!(f, "the VM's VNC server: {m}"),
            RfbError::AuthFailed(m) => {
                write!(f, "the VM's VNC server refused the password: {m}")
            }
        }
    }
}

impl std::error::Error for RfbError {}

impl From<io::Error> for RfbError {
    fn from(e: io::Error) -> RfbError {
        RfbError::Io(e)
    }
}

/// Connects to `target` and completes the version and security phases as a client, so
/// the stream is ready for ClientInit. Every step is bounded by `timeout`; the returned
/// stream has no timeouts left set.
pub fn connect(target: &VncTarget, timeout: Duration) -> Result<TcpStream, RfbError> {
    let mut stream = TcpStream::connect_timeout(&target.addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    authenticate(&mut stream, target.password.as_bytes())?;
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    Ok(stream)
}

/// The client side of the version and security phases over any stream.
pub fn authenticate<S: Read + Write>(stream: &mut S, password: &[u8]) -> Result<(), RfbError> {
    let mut version = [0u8; 12];
    stream.read_exact(&mut version)?;
    let minor = parse_version(&version).ok_or_else(|| {
        RfbError::Protocol(format!(
            "not an RFB 3.x greeting: {:?}",
            String::from_utf8_lossy(&version)
        ))
    })?;
    // RFC 6143 §7.1.1: reply with the highest version both speak; unknown minors in
    // between are treated as 3.3.
    let minor = match minor {
        8.. => 8,
        7 => 7,
        _ => 3,
    };
    stream.write_all(format!("RFB 003.00{minor}\n").as_bytes())?;
    let chosen = if minor >= 7 {
        let count = read_u8(stream)?;
        if count == 0 {
            return Err(RfbError::Protocol(read_reason(stream)?));
        }
        let mut offered = vec![0u8; usize::from(count)];
        stream.read_exact(&mut offered)?;
        let chosen = [SECURITY_VNC_AUTH, SECURITY_NONE]
            .into_iter()
            .find(|t| offered.contains(t))
            .ok_or_else(|| {
                RfbError::Protocol(format!("no security type this proxy speaks in {offered:?}"))
            })?;
        stream.write_all(&[chosen])?;
        chosen
    } else {
        match read_u32(stream)? {
            0 => return Err(RfbError::Protocol(read_reason(stream)?)),
            t @ (1 | 2) => t as u8,
            other => {
                return Err(RfbError::Protocol(format!(
                    "unsupported security type {other}"
                )));
            }
        }
    };
    if chosen == SECURITY_VNC_AUTH {
        let mut challenge = [0u8; 16];
        stream.read_exact(&mut challenge)?;
        stream.write_all(&vnc_response(password, &challenge))?;
    }
    // 3.3 and 3.7 send no SecurityResult for None, and no reason on failure.
    if chosen == SECURITY_NONE && minor < 8 {
        return Ok(());
    }
    match read_u32(stream)? {
        0 => Ok(()),
        _ if minor >= 8 => Err(RfbError::AuthFailed(read_reason(stream)?)),
        _ => Err(RfbError::AuthFailed("authentication failed".into())),
    }
}

/// The minor version of an `RFB 003.00N\n` greeting.
fn parse_version(greeting: &[u8; 12]) -> Option<u16> {
    let text = std::str::from_utf8(greeting).ok()?;
    let rest = text.strip_prefix("RFB 003.")?.strip_suffix('\n')?;
    (rest.len() == 3 && rest.bytes().all(|b| b.is_ascii_digit()))
        .then(|| rest.parse().ok())
        .flatten()
}

/// The server side of the version and security phases towards the browser: RFB 3.8,
/// security type None. `Ok(false)` if the browser asked for something else (it has been
/// told why); the caller then closes.
pub fn offer_none<S: Read + Write>(stream: &mut S) -> io::Result<bool> {
    stream.write_all(b"RFB 003.008\n")?;
    let mut version = [0u8; 12];
    stream.read_exact(&mut version)?;
    if &version != b"RFB 003.008\n" {
        // The client does not speak 3.8, so it cannot read a 3.8 reason; just close.
        return Ok(false);
    }
    stream.write_all(&[1, SECURITY_NONE])?;
    if read_u8(stream)? != SECURITY_NONE {
        stream.write_all(&1u32.to_be_bytes())?;
        write_reason(stream, "only security type None is offered here")?;
        return Ok(false);
    }
    stream.write_all(&0u32.to_be_bytes())?;
    Ok(true)
}

/// Tells the browser, in the version phase, why there is no console (RFC 6143 §7.1.2:
/// zero security types, then a reason), when the VNC side failed.
pub fn refuse<S: Read + Write>(stream: &mut S, reason: &str) -> io::Result<()> {
    stream.write_all(b"RFB 003.008\n")?;
    let mut version = [0u8; 12];
    stream.read_exact(&mut version)?;
    stream.write_all(&[0])?;
    write_reason(stream, reason)
}

fn write_reason<S: Write>(stream: &mut S, reason: &str) -> io::Result<()> {
    let mut message = (reason.len() as u32).to_be_bytes().to_vec();
    message.extend_from_slice(reason.as_bytes());
    stream.write_all(&message)
}

fn read_u8<S: Read>(stream: &mut S) -> io::Result<u8> {
    let mut b = [0u8; 1];
    stream.read_exact(&mut b)?;
    Ok(b[0])
}

fn read_u32<S: Read>(stream: &mut S) -> io::Result<u32> {
    let mut b = [0u8; 4];
    stream.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// A length-prefixed reason string, cut to [`MAX_REASON_BYTES`].
fn read_reason<S: Read>(stream: &mut S) -> io::Result<String> {
    let len = read_u32(stream)?;
    let mut text = vec![0u8; len.min(MAX_REASON_BYTES) as usize];
    stream.read_exact(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_come_only_from_loopback_urls_with_a_password() {
        let t = VncTarget::from_url("vnc://:gadget-lunar-wheat-olive@127.0.0.1:5901").unwrap();
        assert_eq!(t.addr, "127.0.0.1:5901".parse().unwrap());
        assert_eq!(t.password, "gadget-lunar-wheat-olive");
        assert!(!format!("{t:?}").contains("gadget"));
        assert_eq!(VncTarget::from_url("vnc://192.168.64.3"), None);
        assert_eq!(VncTarget::from_url("vnc://:pw@192.168.64.3:5900"), None);
        assert_eq!(VncTarget::from_url("vnc://:@127.0.0.1:5900"), None);
        assert_eq!(VncTarget::from_url("vnc://:pw@127.0.0.1"), None);
        assert_eq!(VncTarget::from_url("http://:pw@127.0.0.1:5900"), None);
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version(b"RFB 003.008\n"), Some(8));
        assert_eq!(parse_version(b"RFB 003.003\n"), Some(3));
        assert_eq!(parse_version(b"RFB 004.001\n"), None);
        assert_eq!(parse_version(b"HTTP/1.1 200"), None);
    }
}
