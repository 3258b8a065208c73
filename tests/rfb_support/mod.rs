//! A small RFB 3.8 client for the tests (RFC 6143): the version and security phases
//! (VNC authentication or None), ServerInit, Raw and CopyRect updates into a local
//! framebuffer, and input messages. It reads the server's native pixel format, which
//! must be 32 bits true colour (the simulator's and tart's).
//!
//! Every read is bounded by the stream's own read timeout, set by the caller.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{self, Read, Write};

use taartenfabriek::console::des::vnc_response;

/// What `read_message` saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A FramebufferUpdate with these encodings, in order.
    Update(Vec<i32>),
    /// ServerCutText.
    CutText(String),
    Bell,
}

pub struct RfbClient<S: Read + Write> {
    pub stream: S,
    pub width: u16,
    pub height: u16,
    pub name: String,
    /// The screen as RGB, row by row.
    pub pixels: Vec<[u8; 3]>,
    shifts: [u8; 3],
}

/// Reads a length-prefixed string.
fn read_string<S: Read>(stream: &mut S) -> io::Result<String> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut text = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Runs the version and security phases. `password: Some` picks VNC authentication,
/// `None` picks security type None. `Err` carries the server's reason for a refusal.
pub fn handshake<S: Read + Write>(
    mut stream: S,
    password: Option<&str>,
) -> Result<RfbClient<S>, String> {
    let io = |e: io::Error| format!("i/o: {e}");
    let mut version = [0u8; 12];
    stream.read_exact(&mut version).map_err(io)?;
    assert_eq!(&version, b"RFB 003.008\n", "server greeting");
    stream.write_all(b"RFB 003.008\n").map_err(io)?;
    let mut count = [0u8; 1];
    stream.read_exact(&mut count).map_err(io)?;
    if count[0] == 0 {
        return Err(read_string(&mut stream).map_err(io)?);
    }
    let mut types = vec![0u8; usize::from(count[0])];
    stream.read_exact(&mut types).map_err(io)?;
    let wanted = if password.is_some() { 2 } else { 1 };
    assert!(types.contains(&wanted), "security types offered: {types:?}");
    stream.write_all(&[wanted]).map_err(io)?;
    if let Some(password) = password {
        let mut challenge = [0u8; 16];
        stream.read_exact(&mut challenge).map_err(io)?;
        stream
            .write_all(&vnc_response(password.as_bytes(), &challenge))
            .map_err(io)?;
    }
    let mut result = [0u8; 4];
    stream.read_exact(&mut result).map_err(io)?;
    if result != [0; 4] {
        return Err(read_string(&mut stream).map_err(io)?);
    }
    stream.write_all(&[1]).map_err(io)?; // ClientInit: shared
    let mut init = [0u8; 20];
    stream.read_exact(&mut init).map_err(io)?;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let format = &init[4..20];
    assert_eq!(format[0], 32, "bits per pixel");
    assert_eq!(format[3], 1, "true colour");
    assert_eq!(format[2], 0, "little-endian");
    let name = read_string(&mut stream).map_err(io)?;
    Ok(RfbClient {
        stream,
        width,
        height,
        name,
        pixels: vec![[0; 3]; usize::from(width) * usize::from(height)],
        shifts: [format[10], format[11], format[12]],
    })
}

impl<S: Read + Write> RfbClient<S> {
    pub fn set_encodings(&mut self, encodings: &[i32]) {
        let mut m = vec![2, 0];
        m.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            m.extend_from_slice(&e.to_be_bytes());
        }
        self.stream.write_all(&m).unwrap();
    }

    pub fn request_update(&mut self, incremental: bool) {
        let mut m = vec![3, u8::from(incremental), 0, 0, 0, 0];
        m.extend_from_slice(&self.width.to_be_bytes());
        m.extend_from_slice(&self.height.to_be_bytes());
        self.stream.write_all(&m).unwrap();
    }

    pub fn key(&mut self, keysym: u32, down: bool) {
        let mut m = vec![4, u8::from(down), 0, 0];
        m.extend_from_slice(&keysym.to_be_bytes());
        self.stream.write_all(&m).unwrap();
    }

    pub fn pointer(&mut self, buttons: u8, x: u16, y: u16) {
        let mut m = vec![5, buttons];
        m.extend_from_slice(&x.to_be_bytes());
        m.extend_from_slice(&y.to_be_bytes());
        self.stream.write_all(&m).unwrap();
    }

    pub fn cut_text(&mut self, text: &str) {
        let mut m = vec![6, 0, 0, 0];
        m.extend_from_slice(&(text.len() as u32).to_be_bytes());
        m.extend_from_slice(text.as_bytes());
        self.stream.write_all(&m).unwrap();
    }

    pub fn pixel(&self, x: u16, y: u16) -> [u8; 3] {
        self.pixels[usize::from(y) * usize::from(self.width) + usize::from(x)]
    }

    /// Reads one server message, applying updates to `pixels`.
    pub fn read_message(&mut self) -> io::Result<Event> {
        let mut kind = [0u8; 1];
        self.stream.read_exact(&mut kind)?;
        match kind[0] {
            0 => {
                let mut head = [0u8; 3];
                self.stream.read_exact(&mut head)?;
                let count = u16::from_be_bytes([head[1], head[2]]);
                let mut encodings = Vec::new();
                for _ in 0..count {
                    encodings.push(self.read_rect()?);
                }
                Ok(Event::Update(encodings))
            }
            2 => Ok(Event::Bell),
            3 => {
                let mut pad = [0u8; 3];
                self.stream.read_exact(&mut pad)?;
                Ok(Event::CutText(read_string(&mut self.stream)?))
            }
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected server message {other}"),
            )),
        }
    }

    fn read_rect(&mut self) -> io::Result<i32> {
        let mut h = [0u8; 12];
        self.stream.read_exact(&mut h)?;
        let at = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
        let (x, y, w, hgt) = (at(0), at(2), at(4), at(6));
        let encoding = i32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        let width = usize::from(self.width);
        match encoding {
            0 => {
                let mut data = vec![0u8; w * hgt * 4];
                self.stream.read_exact(&mut data)?;
                for row in 0..hgt {
                    for col in 0..w {
                        let i = (row * w + col) * 4;
                        let v =
                            u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                        let c = |s: u8| (v >> s) as u8;
                        self.pixels[(y + row) * width + x + col] =
                            [c(self.shifts[0]), c(self.shifts[1]), c(self.shifts[2])];
                    }
                }
            }
            1 => {
                let mut src = [0u8; 4];
                self.stream.read_exact(&mut src)?;
                let sx = usize::from(u16::from_be_bytes([src[0], src[1]]));
                let sy = usize::from(u16::from_be_bytes([src[2], src[3]]));
                let copy: Vec<[u8; 3]> = (0..hgt)
                    .flat_map(|row| (0..w).map(move |col| (row, col)))
                    .map(|(row, col)| self.pixels[(sy + row) * width + sx + col])
                    .collect();
                for row in 0..hgt {
                    for col in 0..w {
                        self.pixels[(y + row) * width + x + col] = copy[row * w + col];
                    }
                }
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unexpected encoding {other}"),
                ));
            }
        }
        Ok(encoding)
    }
}
