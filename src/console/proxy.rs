//! The byte pipe between the browser's WebSocket and tart's VNC server, once both
//! handshakes are done.
//!
//! Threading: two threads per console, one per direction. The browser socket is read by
//! one tungstenite context (this thread) and written by two (pongs and close replies from
//! the reader, data from the VNC side), so writes go through [`SharedWrite`]: a mutex
//! held for one `write` call, which tungstenite always makes with whole frames. When
//! either direction ends it shuts down both sockets, which ends the other.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocket, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

use super::{CONSOLE_IDLE_TIMEOUT, CONSOLE_MAX_MESSAGE, CONSOLE_READ_CHUNK};
use crate::util::sync::lock;

/// The write half of the browser socket, shared by both directions.
#[derive(Clone)]
pub struct SharedWrite(pub Arc<Mutex<TcpStream>>);

impl Write for SharedWrite {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // All of it under one lock, so frames from the two writers never interleave.
        lock(&self.0).write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.0).flush()
    }
}

impl Read for SharedWrite {
    /// The writing context never reads.
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("the console's writer does not read"))
    }
}

/// The browser socket as the reading context sees it.
pub struct BrowserStream {
    pub read: TcpStream,
    pub write: SharedWrite,
}

impl Read for BrowserStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read.read(buf)
    }
}

impl Write for BrowserStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write.flush()
    }
}

/// The WebSocket settings of a console: binary messages up to [`CONSOLE_MAX_MESSAGE`].
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(CONSOLE_READ_CHUNK)
        .max_message_size(Some(CONSOLE_MAX_MESSAGE))
        .max_frame_size(Some(CONSOLE_MAX_MESSAGE))
}

/// The browser's WebSocket as a byte stream, for the RFB handshake: reads take bytes
/// from binary messages, each write sends one binary message.
pub struct WsBytes<'a> {
    pub ws: &'a mut WebSocket<BrowserStream>,
    pub pending: VecDeque<u8>,
}

impl Read for WsBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.ws.read() {
                Ok(Message::Binary(data)) => self.pending.extend(data.iter()),
                Ok(Message::Close(_)) => return Ok(0),
                Ok(Message::Text(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the console speaks binary messages only",
                    ));
                }
                Ok(_) => {}
                Err(e) => return Err(ws_io(e)),
            }
        }
        let n = buf.len().min(self.pending.len());
        for (slot, byte) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for WsBytes<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws
            .send(Message::Binary(buf.to_vec().into()))
            .map_err(ws_io)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().map_err(ws_io)
    }
}

fn ws_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// Closes the browser's WebSocket with `reason` and shuts both sockets down.
pub fn close_with(ws: &mut WebSocket<BrowserStream>, code: CloseCode, reason: &str) {
    let _ = ws.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = ws.flush();
    let _ = ws.get_ref().read.shutdown(Shutdown::Both);
}

/// Joins the browser and the VNC server until either side goes. `early` holds bytes the
/// browser already sent past the handshake; they go first.
pub fn run(mut ws: WebSocket<BrowserStream>, vnc: TcpStream, early: Vec<u8>) {
    let write = ws.get_ref().write.clone();
    let browser = ws.get_ref().read.try_clone();
    let vnc_reader = vnc.try_clone();
    let (Ok(browser), Ok(vnc_reader)) = (browser, vnc_reader) else {
        close_with(&mut ws, CloseCode::Error, "cannot set up the console");
        return;
    };
    let down = std::thread::Builder::new()
        .name("console-down".into())
        .spawn(move || vnc_to_browser(vnc_reader, write, browser));
    if down.is_err() {
        close_with(
            &mut ws,
            CloseCode::Again,
            "cannot start the console's thread",
        );
        let _ = vnc.shutdown(Shutdown::Both);
        return;
    }
    browser_to_vnc(ws, vnc, early);
}

/// VNC → browser: every read becomes one binary message. Ends with a normal close when
/// the VNC server goes (the VM stopped), or quietly when the browser side is gone.
fn vnc_to_browser(mut vnc: TcpStream, write: SharedWrite, browser: TcpStream) {
    let mut ws = WebSocket::from_raw_socket(write, Role::Server, Some(ws_config()));
    let mut buf = vec![0u8; CONSOLE_READ_CHUNK];
    let ended_by_vnc = loop {
        match vnc.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                if ws.send(Message::Binary(buf[..n].to_vec().into())).is_err() {
                    break false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A shutdown by the other direction, or a broken VNC connection.
            Err(_) => break true,
        }
    };
    if ended_by_vnc {
        let _ = ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "the VM's screen closed".into(),
        }));
        let _ = ws.flush();
    }
    let _ = browser.shutdown(Shutdown::Both);
    let _ = vnc.shutdown(Shutdown::Both);
}

/// Browser → VNC: binary messages are written through untouched. The socket's read
/// timeout paces pings; a console without input for [`CONSOLE_IDLE_TIMEOUT`] is closed.
fn browser_to_vnc(mut ws: WebSocket<BrowserStream>, mut vnc: TcpStream, early: Vec<u8>) {
    let mut last_input = Instant::now();
    if !early.is_empty() && vnc.write_all(&early).is_err() {
        close_with(&mut ws, CloseCode::Normal, "the VM's screen closed");
        return;
    }
    loop {
        match ws.read() {
            Ok(Message::Binary(data)) => {
                last_input = Instant::now();
                if vnc.write_all(&data).is_err() {
                    break;
                }
            }
            Ok(Message::Text(_)) => {
                close_with(&mut ws, CloseCode::Unsupported, "binary messages only");
                break;
            }
            Ok(Message::Close(_)) => {
                // tungstenite queued the reply; send it before the socket goes.
                let _ = ws.flush();
                break;
            }
            Ok(_) => {}
            Err(WsError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if last_input.elapsed() >= CONSOLE_IDLE_TIMEOUT {
                    close_with(
                        &mut ws,
                        CloseCode::Policy,
                        "closed after a long time without input",
                    );
                    break;
                }
                if ws.send(Message::Ping(Vec::new().into())).is_err() {
                    break;
                }
            }
            Err(WsError::Capacity(_)) => {
                close_with(&mut ws, CloseCode::Size, "message too big");
                break;
            }
            Err(_) => break,
        }
    }
    let _ = vnc.shutdown(Shutdown::Both);
    let _ = ws.get_ref().read.shutdown(Shutdown::Both);
}
