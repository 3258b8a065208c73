//! The simulated screen: a known test pattern that changes over time, and the pixel
//! formats a client may ask for (docs/simulator.md, "The VNC console", is the contract
//! tests check pixels against).
//!
//! Pure functions of the frame number; no state, no threads.

/// The eight colour bars across the top half, left to right.
pub const BARS: [[u8; 3]; 8] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
    [0, 0, 0],
];

/// The bottom half's background.
pub const BACKGROUND: [u8; 3] = [64, 64, 64];

/// The moving marker's colour.
pub const MARKER: [u8; 3] = [255, 128, 0];

/// The marker's side, and the distance it moves each frame (64 px).
pub const MARKER_SIZE: u16 = 64;

/// The screen's geometry.
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    pub width: u16,
    pub height: u16,
}

/// A rectangle in screen coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Screen {
    /// The marker's square in frame `frame`: it steps 64 px right per frame along the
    /// line centred at three quarters of the height, and wraps to the left edge.
    pub fn marker(&self, frame: u64) -> Rect {
        let steps = u64::from((self.width / MARKER_SIZE).max(1));
        Rect {
            x: (frame % steps) as u16 * MARKER_SIZE,
            y: (self.height / 4 * 3).saturating_sub(MARKER_SIZE / 2),
            w: MARKER_SIZE.min(self.width),
            h: MARKER_SIZE.min(self.height),
        }
    }

    /// The colour of pixel (`x`, `y`) in frame `frame`.
    pub fn pixel(&self, frame: u64, x: u16, y: u16) -> [u8; 3] {
        if y < self.height / 2 {
            let bar = usize::from(x) * BARS.len() / usize::from(self.width.max(1));
            return BARS[bar.min(BARS.len() - 1)];
        }
        let m = self.marker(frame);
        if x >= m.x && x < m.x + m.w && y >= m.y && y < m.y + m.h {
            MARKER
        } else {
            BACKGROUND
        }
    }

    /// `rect` clipped to the screen.
    pub fn clip(&self, rect: Rect) -> Rect {
        let x = rect.x.min(self.width);
        let y = rect.y.min(self.height);
        Rect {
            x,
            y,
            w: rect.w.min(self.width - x),
            h: rect.h.min(self.height - y),
        }
    }
}

/// RFB's PIXEL_FORMAT (RFC 6143 §7.4), true-colour only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub max: [u16; 3],
    pub shift: [u8; 3],
}

impl PixelFormat {
    /// What the simulator offers: 32 bits, depth 24, little-endian, red at bit 16.
    pub const NATIVE: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    /// The 16 bytes of the wire form.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    /// Parses the wire form; `None` for formats the simulator cannot draw in (colour
    /// maps, or a bits-per-pixel other than 8, 16 and 32).
    pub fn from_bytes(b: &[u8; 16]) -> Option<PixelFormat> {
        let max = |i: usize| u16::from_be_bytes([b[4 + 2 * i], b[5 + 2 * i]]);
        let format = PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [max(0), max(1), max(2)],
            shift: [b[10], b[11], b[12]],
        };
        let usable = format.true_colour
            && matches!(format.bits_per_pixel, 8 | 16 | 32)
            && format.shift.iter().all(|s| *s < format.bits_per_pixel);
        usable.then_some(format)
    }

    /// Bytes per pixel.
    pub fn bytes(self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Appends `rgb` in this format.
    pub fn push(self, rgb: [u8; 3], out: &mut Vec<u8>) {
        let value = (0..3).fold(0u32, |v, i| {
            let scaled = u32::from(rgb[i]) * u32::from(self.max[i]) / 255;
            v | (scaled << self.shift[i])
        });
        let bytes = value.to_le_bytes();
        let n = self.bytes();
        if self.big_endian {
            out.extend(bytes[..n].iter().rev());
        } else {
            out.extend_from_slice(&bytes[..n]);
        }
    }

    /// `rect` of frame `frame` as Raw pixel data.
    pub fn raw(self, screen: &Screen, frame: u64, rect: Rect) -> Vec<u8> {
        let mut out = Vec::with_capacity(usize::from(rect.w) * usize::from(rect.h) * self.bytes());
        for y in rect.y..rect.y + rect.h {
            for x in rect.x..rect.x + rect.w {
                self.push(screen.pixel(frame, x, y), &mut out);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_marker_and_background() {
        let s = Screen {
            width: 1024,
            height: 768,
        };
        assert_eq!(s.pixel(0, 0, 0), BARS[0]);
        assert_eq!(s.pixel(0, 1023, 383), BARS[7]);
        assert_eq!(s.pixel(0, 128, 10), BARS[1]);
        assert_eq!(
            s.marker(0),
            Rect {
                x: 0,
                y: 544,
                w: 64,
                h: 64
            }
        );
        assert_eq!(
            s.marker(17),
            Rect {
                x: 64,
                y: 544,
                w: 64,
                h: 64
            }
        );
        assert_eq!(s.pixel(1, 64, 544), MARKER);
        assert_eq!(s.pixel(1, 0, 544), BACKGROUND);
    }

    #[test]
    fn pixel_formats() {
        let mut out = Vec::new();
        PixelFormat::NATIVE.push([1, 2, 3], &mut out);
        assert_eq!(out, [3, 2, 1, 0]);
        let rgb565 = PixelFormat {
            bits_per_pixel: 16,
            depth: 16,
            big_endian: true,
            true_colour: true,
            max: [31, 63, 31],
            shift: [11, 5, 0],
        };
        out.clear();
        rgb565.push([255, 0, 255], &mut out);
        assert_eq!(out, [0xf8, 0x1f]);
        assert_eq!(PixelFormat::from_bytes(&rgb565.to_bytes()), Some(rgb565));
        let mut map = rgb565.to_bytes();
        map[3] = 0;
        assert_eq!(PixelFormat::from_bytes(&map), None);
    }
}
