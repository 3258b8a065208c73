//! Answers as Orchard's controller writes them: JSON bodies, errors as
//! `{"message": "..."}`, 404 with an empty body, and the NDJSON watch stream written
//! straight to the connection (chunked, one flushed chunk per line) because tiny_http
//! buffers a streamed body.
//!
//! Each function consumes its request on the calling (request) thread.

use std::io::{Read, Write};

use crossbeam_channel::Receiver;
use serde::Serialize;
use serde_json::json;
use tiny_http::{Header, Request, Response};

/// Largest request body the simulator reads; VM specs are a few KiB.
pub const MAX_BODY: u64 = 1 << 20;

/// A finished answer: status, JSON (or empty) body, extra headers.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json<T: Serialize>(value: &T) -> Reply {
        Reply {
            status: 200,
            body: serde_json::to_vec(value).expect("serializable"),
            headers: Vec::new(),
        }
    }

    /// Orchard's error shape.
    pub fn message(status: u16, text: &str) -> Reply {
        Reply {
            status,
            body: json!({ "message": text }).to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends the answer; a client that went away is not an error worth reporting.
    pub fn send(self, request: Request) {
        let mut response = Response::from_data(self.body).with_status_code(self.status);
        if !response_is_empty(self.status) {
            response.add_header(header("Content-Type", "application/json; charset=utf-8"));
        }
        for (k, v) in &self.headers {
            response.add_header(header(k, v));
        }
        let _ = request.respond(response);
    }
}

fn response_is_empty(status: u16) -> bool {
    status == 404
}

fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("valid header")
}

/// Reads a request body of at most `MAX_BODY` bytes.
pub fn body(request: &mut Request) -> Result<Vec<u8>, Reply> {
    let mut buf = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut buf)
        .map_err(|_| Reply::message(400, "cannot read the request body"))?;
    if buf.len() as u64 > MAX_BODY {
        return Err(Reply::message(400, "request body too large"));
    }
    Ok(buf)
}

/// Streams watch lines until the client goes away. As Go's net/http does, nothing
/// (not even the status line) is written before the first line.
pub fn stream(request: Request, lines: Receiver<String>) {
    let mut out = request.into_writer();
    let mut started = false;
    for line in lines.iter() {
        let mut chunk = Vec::new();
        if !started {
            chunk.extend_from_slice(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\
                  Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            );
            started = true;
        }
        let payload = format!("{line}\n");
        chunk.extend_from_slice(format!("{:x}\r\n", payload.len()).as_bytes());
        chunk.extend_from_slice(payload.as_bytes());
        chunk.extend_from_slice(b"\r\n");
        if out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}
