//! One client of the simulated VNC server: RFB 3.8 (RFC 6143) with VNC authentication,
//! then framebuffer updates of the test pattern (Raw, and CopyRect when the client
//! lists it) and a log of the input the client sends.
//!
//! Threading: the connection's thread does the handshake and then owns every write; a
//! second thread reads and parses client messages and hands them over a channel, so the
//! writer can wait for a message or the next frame, whichever comes first. Both end when
//! the client goes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use serde_json::json;

use super::Shared;
use super::des::vnc_response;
use super::pattern::{PixelFormat, Rect};

/// Longest a client may take over each step of the handshake (30 s), so a silent client
/// does not hold a thread for the life of the VM.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the writer looks for a new frame while no message arrives (50 ms).
const TICK: Duration = Duration::from_millis(50);

/// Largest ClientCutText accepted (1 MiB); a bigger one ends the connection.
const MAX_CUT_TEXT: usize = 1024 * 1024;

/// Most encodings a SetEncodings may list (1,024).
const MAX_ENCODINGS: usize = 1024;

/// RFB security type 2, "VNC Authentication".
const SECURITY_VNC_AUTH: u8 = 2;

/// Encoding numbers (RFC 6143 §7.7).
const ENCODING_RAW: i32 = 0;
const ENCODING_COPY_RECT: i32 = 1;

/// What the reader thread passes to the writer.
enum ClientMessage {
    PixelFormat(PixelFormat),
    Encodings(Vec<i32>),
    UpdateRequest { incremental: bool, rect: Rect },
}

/// Serves one connection until the client leaves or breaks the protocol.
pub fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    shared.log.record(json!({"event": "connect", "peer": peer}));
    let outcome = handshake(&mut stream, &shared).and_then(|()| run(stream, &shared));
    let reason = match outcome {
        Ok(()) => "closed".to_string(),
        Err(e) => e.to_string(),
    };
    shared
        .log
        .record(json!({"event": "disconnect", "peer": peer, "reason": reason}));
}

fn protocol_error(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Version, security (VNC authentication) and initialisation, RFC 6143 §7.1–7.3.
fn handshake(stream: &mut TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.write_all(b"RFB 003.008\n")?;
    let mut version = [0u8; 12];
    stream.read_exact(&mut version)?;
    if &version != b"RFB 003.008\n" {
        // RFC 6143 §7.1.2: no security types, then the reason.
        stream.write_all(&[0])?;
        write_reason(stream, "tart-sim speaks RFB 3.8 only")?;
        return Err(protocol_error("client asked for another RFB version"));
    }
    stream.write_all(&[1, SECURITY_VNC_AUTH])?;
    let mut chosen = [0u8; 1];
    stream.read_exact(&mut chosen)?;
    if chosen[0] != SECURITY_VNC_AUTH {
        stream.write_all(&1u32.to_be_bytes())?;
        write_reason(stream, "security type not offered")?;
        return Err(protocol_error("client chose a security type not offered"));
    }
    let challenge: [u8; 16] = crate::ids::random_bytes();
    stream.write_all(&challenge)?;
    let mut answer = [0u8; 16];
    stream.read_exact(&mut answer)?;
    let ok = answer == vnc_response(shared.password.as_bytes(), &challenge);
    shared.log.record(json!({"event": "auth", "ok": ok}));
    if !ok {
        stream.write_all(&1u32.to_be_bytes())?;
        write_reason(stream, "Authentication failed")?;
        return Err(protocol_error("wrong password"));
    }
    stream.write_all(&0u32.to_be_bytes())?;
    let mut shared_flag = [0u8; 1];
    stream.read_exact(&mut shared_flag)?;
    let name = format!("tart-sim: {}", shared.vm);
    let mut init = Vec::with_capacity(24 + name.len());
    init.extend_from_slice(&shared.screen.width.to_be_bytes());
    init.extend_from_slice(&shared.screen.height.to_be_bytes());
    init.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
    init.extend_from_slice(&(name.len() as u32).to_be_bytes());
    init.extend_from_slice(name.as_bytes());
    // One ServerCutText right away, so clients can show what the guest's clipboard holds.
    let clip = format!("tart-sim clipboard of {}", shared.vm);
    init.extend_from_slice(&[3, 0, 0, 0]);
    init.extend_from_slice(&(clip.len() as u32).to_be_bytes());
    init.extend_from_slice(clip.as_bytes());
    stream.write_all(&init)?;
    stream.set_read_timeout(None)
}

fn write_reason(stream: &mut TcpStream, reason: &str) -> io::Result<()> {
    stream.write_all(&(reason.len() as u32).to_be_bytes())?;
    stream.write_all(reason.as_bytes())
}

/// The normal phase: updates out, input in.
fn run(stream: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    let (tx, rx) = mpsc::channel();
    let reader = stream.try_clone()?;
    let reader_shared = shared.clone();
    std::thread::Builder::new()
        .name("vnc-reader".into())
        .spawn(move || read_messages(reader, &reader_shared, &tx))?;
    let result = write_updates(&stream, shared, &rx);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    result
}

/// Parses client messages until the client leaves; logs input, forwards the rest.
fn read_messages(mut stream: TcpStream, shared: &Shared, tx: &Sender<ClientMessage>) {
    let mut outcome = Ok(());
    while outcome.is_ok() {
        outcome = read_message(&mut stream, shared, tx);
    }
    // Wakes the writer, which then ends the connection.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn read_message(
    stream: &mut TcpStream,
    shared: &Shared,
    tx: &Sender<ClientMessage>,
) -> io::Result<()> {
    let mut kind = [0u8; 1];
    stream.read_exact(&mut kind)?;
    let forward = |m| tx.send(m).map_err(|_| protocol_error("writer gone"));
    match kind[0] {
        0 => {
            let mut b = [0u8; 19];
            stream.read_exact(&mut b)?;
            let raw: [u8; 16] = b[3..].try_into().expect("16 bytes");
            let format = PixelFormat::from_bytes(&raw)
                .ok_or_else(|| protocol_error("pixel format not supported"))?;
            shared
                .log
                .record(json!({"event": "pixel_format", "bits_per_pixel": format.bits_per_pixel}));
            forward(ClientMessage::PixelFormat(format))
        }
        2 => {
            let mut b = [0u8; 3];
            stream.read_exact(&mut b)?;
            let count = usize::from(u16::from_be_bytes([b[1], b[2]]));
            if count > MAX_ENCODINGS {
                return Err(protocol_error("too many encodings"));
            }
            let mut list = vec![0u8; count * 4];
            stream.read_exact(&mut list)?;
            let encodings: Vec<i32> = list
                .chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            shared
                .log
                .record(json!({"event": "encodings", "encodings": encodings}));
            forward(ClientMessage::Encodings(encodings))
        }
        3 => {
            let mut b = [0u8; 9];
            stream.read_exact(&mut b)?;
            let at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            forward(ClientMessage::UpdateRequest {
                incremental: b[0] != 0,
                rect: Rect {
                    x: at(1),
                    y: at(3),
                    w: at(5),
                    h: at(7),
                },
            })
        }
        4 => {
            let mut b = [0u8; 7];
            stream.read_exact(&mut b)?;
            let keysym = u32::from_be_bytes([b[3], b[4], b[5], b[6]]);
            shared
                .log
                .record(json!({"event": "key", "down": b[0] != 0, "keysym": keysym}));
            Ok(())
        }
        5 => {
            let mut b = [0u8; 5];
            stream.read_exact(&mut b)?;
            let x = u16::from_be_bytes([b[1], b[2]]);
            let y = u16::from_be_bytes([b[3], b[4]]);
            shared
                .log
                .record(json!({"event": "pointer", "buttons": b[0], "x": x, "y": y}));
            Ok(())
        }
        6 => {
            let mut b = [0u8; 7];
            stream.read_exact(&mut b)?;
            let len = u32::from_be_bytes([b[3], b[4], b[5], b[6]]) as usize;
            if len > MAX_CUT_TEXT {
                return Err(protocol_error("cut text too long"));
            }
            let mut text = vec![0u8; len];
            stream.read_exact(&mut text)?;
            // RFB cut text is Latin-1.
            let text: String = text.iter().map(|b| char::from(*b)).collect();
            shared
                .log
                .record(json!({"event": "cut_text", "text": text}));
            Ok(())
        }
        other => Err(protocol_error(format!(
            "unknown client message type {other}"
        ))),
    }
}

/// What the writer knows about the client.
struct View {
    format: PixelFormat,
    copy_rect: bool,
    /// An incremental update request is waiting for a change.
    waiting: bool,
    /// The frame the client's picture shows, once it has one.
    shown: Option<u64>,
}

fn write_updates(
    mut stream: &TcpStream,
    shared: &Shared,
    rx: &Receiver<ClientMessage>,
) -> io::Result<()> {
    let mut view = View {
        format: PixelFormat::NATIVE,
        copy_rect: false,
        waiting: false,
        shown: None,
    };
    loop {
        match rx.recv_timeout(TICK) {
            Ok(ClientMessage::PixelFormat(format)) => view.format = format,
            Ok(ClientMessage::Encodings(list)) => {
                view.copy_rect = list.contains(&ENCODING_COPY_RECT)
            }
            Ok(ClientMessage::UpdateRequest { incremental, rect }) => {
                if incremental && view.shown.is_some() {
                    view.waiting = true;
                } else {
                    let frame = shared.frame();
                    let rect = shared.screen.clip(rect);
                    let data = view.format.raw(&shared.screen, frame, rect);
                    stream.write_all(&update(&[(rect, ENCODING_RAW, data)]))?;
                    view.shown = Some(frame);
                    view.waiting = false;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if let (true, Some(shown)) = (view.waiting, view.shown) {
            let frame = shared.frame();
            if frame != shown {
                if let Some(message) = marker_moved(shared, &view, shown, frame) {
                    stream.write_all(&message)?;
                    view.waiting = false;
                }
                view.shown = Some(frame);
            }
        }
    }
}

/// The update from frame `from` to frame `to`: only the marker moves. With CopyRect the
/// marker is copied to its new place and its old place painted over; without it both
/// squares go as Raw. `None` when the marker is where it was.
fn marker_moved(shared: &Shared, view: &View, from: u64, to: u64) -> Option<Vec<u8>> {
    let (old, new) = (shared.screen.marker(from), shared.screen.marker(to));
    if old == new {
        return None;
    }
    let raw = |rect: Rect| view.format.raw(&shared.screen, to, rect);
    let moved = if view.copy_rect {
        let mut source = Vec::with_capacity(4);
        source.extend_from_slice(&old.x.to_be_bytes());
        source.extend_from_slice(&old.y.to_be_bytes());
        (new, ENCODING_COPY_RECT, source)
    } else {
        (new, ENCODING_RAW, raw(new))
    };
    Some(update(&[moved, (old, ENCODING_RAW, raw(old))]))
}

/// A FramebufferUpdate message of `rects` (RFC 6143 §7.6.1).
fn update(rects: &[(Rect, i32, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&(rects.len() as u16).to_be_bytes());
    for (rect, encoding, data) in rects {
        for v in [rect.x, rect.y, rect.w, rect.h] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&encoding.to_be_bytes());
        out.extend_from_slice(data);
    }
    out
}
