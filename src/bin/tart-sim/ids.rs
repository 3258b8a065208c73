//! Identifiers: random bytes, UUIDs, MAC addresses, base64, and the stable
//! pseudo-digest that stands in for a registry's `sha256:` manifest digest.

/// Fills a buffer with OS randomness.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // getrandom only fails when the OS has no entropy source at all; a fixed fallback
    // would make every MAC collide, so treat it as the fatal condition it is.
    getrandom::fill(&mut bytes).expect("OS random source unavailable");
    bytes
}

/// A random 64-bit number.
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}

/// A random UUID in Foundation's upper-case form (used for tmp/ entry names).
pub fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random locally administered unicast MAC, like `VZMACAddress.randomLocallyAdministered`.
pub fn random_mac() -> String {
    let mut b = random_bytes::<6>();
    b[0] = (b[0] & 0xfc) | 0x02;
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// FNV-1a over `data`, starting from `seed`.
pub fn fnv1a(seed: u64, data: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = seed;
    for byte in data {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// 64 hex digits derived deterministically from `input` (not a real SHA-256; any stable
/// hash will do, the point is that the same reference always yields the same digest).
pub fn stable_hex64(input: &str) -> String {
    const SEEDS: [u64; 4] = [
        0xcbf2_9ce4_8422_2325,
        0x9e37_79b9_7f4a_7c15,
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
    ];
    SEEDS
        .iter()
        .map(|seed| format!("{:016x}", fnv1a(*seed, input.as_bytes())))
        .collect()
}

/// Standard base64 with padding (config.json's `ecid` and `hardwareModel`).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}
