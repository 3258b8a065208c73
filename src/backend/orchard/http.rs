//! HTTP/1.1 to the controller over std's `TcpStream`: one request per connection
//! (`Connection: close`), Basic auth, a JSON body, and a response read by
//! `Content-Length`, chunked framing (Go's net/http chunks any body it does not size,
//! and every watch stream) or to the end of the stream.
//!
//! Blocking; the caller's thread does the I/O. Every socket has connect, read and write
//! timeouts, so no call hangs.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::endpoint::Endpoint;
use super::error::OrchardError;

/// How long a connection attempt may take: a controller on the network answers a SYN in
/// milliseconds; a dead or firewalled one should not hold a request longer than this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Read/write timeout of a normal call, as Orchard's own Go client uses (30 s).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest response body accepted: a list of a few thousand VMs; anything larger is not
/// a controller talking.
pub const MAX_RESPONSE_BYTES: u64 = 32 << 20;

/// Largest status line or header line accepted.
const MAX_LINE: u64 = 16 << 10;

/// The User-Agent sent. Orchard routes a `PUT /vms/{n}` whose UA starts with `Orchard/0`
/// to the worker's state update, so it must not look like Orchard's.
pub const USER_AGENT: &str = concat!("taartenfabriek/", env!("CARGO_PKG_VERSION"));

/// A complete answer.
#[derive(Debug)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn unreachable(e: &io::Error) -> OrchardError {
    OrchardError::Unreachable(match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".into(),
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    })
}

/// Opens a connection and sends the request head and body; `read_timeout` bounds every
/// later read.
pub fn send(
    ep: &Endpoint,
    method: &str,
    route: &str,
    body: Option<&[u8]>,
    read_timeout: Duration,
) -> Result<BufReader<TcpStream>, OrchardError> {
    let addrs = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| OrchardError::Unreachable(format!("cannot resolve {}: {e}", ep.host)))?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(unreachable(&e)),
        (None, None) => {
            return Err(OrchardError::Unreachable(format!(
                "no address for {}",
                ep.host
            )));
        }
    };
    stream
        .set_read_timeout(Some(read_timeout))
        .map_err(|e| unreachable(&e))?;
    stream
        .set_write_timeout(Some(CALL_TIMEOUT))
        .map_err(|e| unreachable(&e))?;
    let _ = stream.set_nodelay(true);
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/json\r\nConnection: close\r\n",
        ep.path(route),
        ep.host,
        ep.port
    );
    if let Some(auth) = ep.authorization() {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&raw).map_err(|e| unreachable(&e))?;
    Ok(BufReader::new(stream))
}

/// One call: request out, complete answer in.
pub fn exchange(
    ep: &Endpoint,
    method: &str,
    route: &str,
    body: Option<&[u8]>,
) -> Result<HttpReply, OrchardError> {
    let mut reader = send(ep, method, route, body, CALL_TIMEOUT)?;
    let (status, headers) = read_head(&mut reader)?;
    let mut body = Vec::new();
    let mut framed = framed_body(reader, &headers, status, method == "HEAD");
    framed
        .by_ref()
        .take(MAX_RESPONSE_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => OrchardError::Protocol(e.to_string()),
            _ => unreachable(&e),
        })?;
    if body.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(OrchardError::Protocol("the response is too large".into()));
    }
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

fn line(reader: &mut impl BufRead) -> Result<String, OrchardError> {
    let mut l = String::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE)
        .read_line(&mut l)
        .map_err(|e| unreachable(&e))?;
    if n == 0 {
        return Err(OrchardError::Unreachable(
            "the connection closed early".into(),
        ));
    }
    Ok(l.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads the status line and headers.
pub fn read_head(reader: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>), OrchardError> {
    let status_line = line(reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| {
            OrchardError::Protocol(format!("not an HTTP status line: {status_line:?}"))
        })?;
    let mut headers = Vec::new();
    loop {
        let h = line(reader)?;
        if h.is_empty() {
            break;
        }
        if headers.len() > 100 {
            return Err(OrchardError::Protocol("too many headers".into()));
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// The body of a response as a plain byte stream, framing removed.
pub fn framed_body<R: BufRead>(
    reader: R,
    headers: &[(String, String)],
    status: u16,
    head_request: bool,
) -> Body<R> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mode = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Mode::Length(0)
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        Mode::Chunked {
            left: 0,
            done: false,
        }
    } else if let Some(n) = get("content-length").and_then(|v| v.parse().ok()) {
        Mode::Length(n)
    } else {
        Mode::ToEnd
    };
    Body {
        inner: reader,
        mode,
    }
}

enum Mode {
    Length(u64),
    /// `left` bytes remain in the current chunk.
    Chunked {
        left: u64,
        done: bool,
    },
    ToEnd,
}

/// A response body with its framing removed.
pub struct Body<R> {
    inner: R,
    mode: Mode,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.mode {
            Mode::ToEnd => self.inner.read(buf),
            Mode::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body cut short",
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Mode::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut size = String::new();
                    self.inner.by_ref().take(MAX_LINE).read_line(&mut size)?;
                    let hex = size.trim().split(';').next().unwrap_or_default();
                    if hex.is_empty() {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended"));
                    }
                    let n = u64::from_str_radix(hex, 16).map_err(|_| bad("bad chunk size"))?;
                    if n == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = n;
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "chunk cut short",
                    ));
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.inner.read_exact(&mut crlf)?;
                    if &crlf != b"\r\n" {
                        return Err(bad("chunk not followed by CRLF"));
                    }
                }
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &str) -> io::Result<Vec<u8>> {
        let mut reader = BufReader::new(raw.as_bytes());
        let (status, headers) = read_head(&mut reader).unwrap();
        let mut out = Vec::new();
        framed_body(reader, &headers, status, false).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_chunked_and_sized_bodies() {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(decode(chunked).unwrap(), b"abcde");
        let sized = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiXX";
        assert_eq!(decode(sized).unwrap(), b"hi");
        let eof = "HTTP/1.1 200 OK\r\n\r\nall of it";
        assert_eq!(decode(eof).unwrap(), b"all of it");
    }

    #[test]
    fn a_cut_or_malformed_chunk_is_an_error() {
        let cut = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc";
        assert!(decode(cut).is_err());
        let bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n";
        assert_eq!(decode(bad).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_non_http_answer_is_a_protocol_error() {
        let mut r = BufReader::new(&b"SSH-2.0-OpenSSH\r\n"[..]);
        assert!(matches!(read_head(&mut r), Err(OrchardError::Protocol(_))));
    }
}
