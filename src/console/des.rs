//! DES encryption of single 64-bit blocks (FIPS 46-3), written for RFB's "VNC
//! Authentication" and nothing else: the VNC server sends a 16-byte challenge and the
//! client answers with both 8-byte halves encrypted (ECB) under a key made from the
//! password.
//!
//! DES is broken as a cipher; VNC authentication only ever used it to avoid sending the
//! password in the clear, and tart's VNC server (on 127.0.0.1) asks for it. Only
//! encryption is needed, so there is no decryption.
//!
//! Bit numbering follows the standard: bit 1 is the most significant bit of a block.
//! No state, no threads.
//!
//! The simulator compiles this file as well (`src/bin/tart-sim/vnc/`): a cipher with
//! published known answers is not a contract that two readings could differ on, and the
//! tests below pin it to answers produced by OpenSSL.

/// Initial permutation (IP).
const IP: [u8; 64] = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, //
    62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8, //
    57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, //
    61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];

/// Final permutation (IP⁻¹).
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, //
    38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29, //
    36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, //
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];

/// Expansion of the 32-bit half block to 48 bits (E).
const E: [u8; 48] = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, //
    8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, //
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, //
    24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];

/// Permutation of the S-box outputs (P).
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, //
    2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
];

/// Permuted choice 1: the 56 key bits that count (parity bits dropped), as C then D.
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, //
    10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36, //
    63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, //
    14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
];

/// Permuted choice 2: the 48-bit round key from C and D.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, //
    23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, //
    41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48, //
    44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

/// Left rotations of C and D before each of the 16 rounds.
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// The eight S-boxes, each 4 rows of 16.
const S: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, //
        0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8, //
        4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, //
        15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, //
        3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5, //
        0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, //
        13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, //
        13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1, //
        13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, //
        1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, //
        13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9, //
        10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, //
        3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, //
        14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6, //
        4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, //
        11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, //
        10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8, //
        9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, //
        4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, //
        13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6, //
        1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, //
        6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, //
        1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2, //
        7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, //
        2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// Picks bits of `input` (`width` bits wide) in the order `table` names them (1 = most
/// significant), giving a value `table.len()` bits wide.
fn permute(input: u64, width: u32, table: &[u8]) -> u64 {
    table.iter().fold(0, |out, &pos| {
        (out << 1) | ((input >> (width - u32::from(pos))) & 1)
    })
}

/// The 16 round keys of `key` (48 bits each).
fn round_keys(key: u64) -> [u64; 16] {
    const MASK28: u64 = (1 << 28) - 1;
    let cd = permute(key, 64, &PC1);
    let (mut c, mut d) = (cd >> 28, cd & MASK28);
    let mut keys = [0; 16];
    for (round, shift) in SHIFTS.iter().enumerate() {
        c = ((c << shift) | (c >> (28 - shift))) & MASK28;
        d = ((d << shift) | (d >> (28 - shift))) & MASK28;
        keys[round] = permute((c << 28) | d, 56, &PC2);
    }
    keys
}

/// The cipher function f(R, K).
fn feistel(right: u64, round_key: u64) -> u64 {
    let mixed = permute(right, 32, &E) ^ round_key;
    let substituted = (0..8).fold(0, |out, i| {
        let six = (mixed >> (42 - 6 * i)) & 0x3f;
        let row = ((six & 0x20) >> 4) | (six & 1);
        let column = (six >> 1) & 0xf;
        (out << 4) | u64::from(S[i][(row * 16 + column) as usize])
    });
    permute(substituted, 32, &P)
}

/// Encrypts one block under `key` (the 8 key bytes; their low bits, the parity bits,
/// are ignored as the standard says).
pub fn encrypt_block(key: [u8; 8], block: [u8; 8]) -> [u8; 8] {
    let keys = round_keys(u64::from_be_bytes(key));
    let permuted = permute(u64::from_be_bytes(block), 64, &IP);
    let (mut left, mut right) = (permuted >> 32, permuted & 0xffff_ffff);
    for round_key in keys {
        (left, right) = (right, left ^ feistel(right, round_key));
    }
    // The halves are swapped once more before the final permutation.
    permute((right << 32) | left, 64, &FP).to_be_bytes()
}

/// The RFB "VNC Authentication" answer to `challenge` for `password` (RFC 6143 §7.2.2).
///
/// Only the first 8 bytes of the password count (shorter ones are padded with zeros), and
/// each key byte is used with its bit order reversed: the original VNC code filled the
/// DES key from the least significant bit, and every VNC server since expects that.
pub fn vnc_response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (slot, byte) in key.iter_mut().zip(password) {
        *slot = byte.reverse_bits();
    }
    let mut response = [0u8; 16];
    for (out, block) in response.chunks_exact_mut(8).zip(challenge.chunks_exact(8)) {
        let block: [u8; 8] = block.try_into().expect("8-byte chunk");
        out.copy_from_slice(&encrypt_block(key, block));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex8(text: &str) -> [u8; 8] {
        u64::from_str_radix(text, 16).unwrap().to_be_bytes()
    }

    /// Known answers: the worked example of the standard's classic walk-through, and
    /// blocks encrypted with `openssl enc -des-ecb -nopad` (legacy provider).
    #[test]
    fn known_answers() {
        let cases = [
            ("133457799bbcdff1", "0123456789abcdef", "85e813540f0ab405"),
            ("0000000000000000", "0000000000000000", "8ca64de9c1b123a7"),
            ("ffffffffffffffff", "ffffffffffffffff", "7359b2163e4edc58"),
            ("0123456789abcdef", "4e6f772069732074", "3fa40e8a984d4815"),
            ("fedcba9876543210", "a5a5a5a5deadbeef", "7e757a4854bfa3d2"),
        ];
        for (key, plain, cipher) in cases {
            assert_eq!(
                encrypt_block(hex8(key), hex8(plain)),
                hex8(cipher),
                "key {key}, block {plain}"
            );
        }
    }

    /// VNC answers computed with OpenSSL from the bit-reversed key bytes.
    #[test]
    fn vnc_answers_reverse_key_bits_and_use_eight_characters() {
        let challenge: [u8; 16] = std::array::from_fn(|i| i as u8);
        let long = vnc_response(b"gadget-lunar-wheat-olive", &challenge);
        let mut expected = [0u8; 16];
        expected[..8].copy_from_slice(&hex8("98f9f596522a58fc"));
        expected[8..].copy_from_slice(&hex8("516e50971541ffda"));
        assert_eq!(long, expected);
        // Only the first eight characters count.
        assert_eq!(vnc_response(b"gadget-l", &challenge), long);
        assert_ne!(vnc_response(b"gadget-m", &challenge), long);
        let short = vnc_response(b"pw", &challenge);
        assert_eq!(short[..8], hex8("858600d9af143c9e"));
        assert_eq!(short[8..], hex8("6541d3dd92a835d0"));
    }
}
