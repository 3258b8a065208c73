//! OCI references (`host[:port]/namespace[:tag|@sha256:hex]`) and their place in
//! `cache/OCIs/`.
//!
//! The parser accepts what tart's ANTLR grammar (`Reference.g4`) accepts and reports
//! failures in ANTLR's style, `<diagnostic> (character <n>)`; only the
//! `failed to parse remote name:` prefix is stable in real tart, so the diagnostics here
//! are plausible rather than byte-identical.

use std::fs;
use std::path::{Path, PathBuf};

use crate::home::{Home, VmDir};

/// Tag used when a reference names none.
const DEFAULT_TAG: &str = "latest";

/// Hex digits in a sha256 digest.
const DIGEST_HEX_LEN: usize = 64;

/// A parsed remote name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteName {
    /// `ghcr.io` or `localhost:5000`.
    pub host: String,
    /// `cirruslabs/macos-sequoia-base`.
    pub namespace: String,
    pub reference: Reference,
}

/// A tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    /// `sha256:<64 hex>`.
    Digest(String),
}

impl RemoteName {
    /// `host/ns` without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.host, self.namespace)
    }

    /// `host/ns:tag` or `host/ns@sha256:…`, as tart prints it.
    pub fn full(&self) -> String {
        match &self.reference {
            Reference::Tag(tag) => format!("{}:{tag}", self.repository()),
            Reference::Digest(digest) => format!("{}@{digest}", self.repository()),
        }
    }

    /// The digest this reference resolves to. A registry would answer with the manifest's
    /// digest; the simulator derives a stable one from the tag reference instead.
    pub fn digest(&self) -> String {
        match &self.reference {
            Reference::Digest(digest) => digest.clone(),
            Reference::Tag(_) => format!("sha256:{}", crate::ids::stable_hex64(&self.full())),
        }
    }

    /// `cache/OCIs/<host, ':' percent-encoded>/<ns>`.
    pub fn repository_dir(&self, home: &Home) -> PathBuf {
        home.oci_dir()
            .join(self.host.replace(':', "%3A"))
            .join(&self.namespace)
    }

    /// The cache entry for this reference (tag symlink or digest directory).
    pub fn entry_path(&self, home: &Home) -> PathBuf {
        let leaf = match &self.reference {
            Reference::Tag(tag) => tag.clone(),
            Reference::Digest(digest) => digest.clone(),
        };
        self.repository_dir(home).join(leaf)
    }

    /// The digest directory this reference resolves to.
    pub fn digest_path(&self, home: &Home) -> PathBuf {
        self.repository_dir(home).join(self.digest())
    }
}

/// Parses a remote name; `Err` holds the ANTLR-style diagnostic.
pub fn parse(text: &str) -> Result<RemoteName, String> {
    if text.is_empty() {
        return Err("unknown reference format".to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    if let Some(at) = chars
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || "./:_@-".contains(*c)))
    {
        return Err(format!(
            "token recognition error at: '{}' (character {at})",
            chars[at]
        ));
    }
    let mut p = Parser {
        chars: &chars,
        at: 0,
    };
    let host = p.host()?;
    p.expect('/')?;
    let namespace = p.namespace()?;
    let reference = match p.peek() {
        None => Reference::Tag(DEFAULT_TAG.to_string()),
        Some(':') => {
            p.at += 1;
            Reference::Tag(p.run(|c| c.is_ascii_alphanumeric() || "._-".contains(c), "tag")?)
        }
        Some('@') => {
            p.at += 1;
            for expected in "sha256:".chars() {
                p.expect(expected)?;
            }
            let hex = p.run(|c| c.is_ascii_hexdigit(), "HEX")?;
            if hex.len() != DIGEST_HEX_LEN {
                return Err(p.mismatch("a 64-digit digest"));
            }
            Reference::Digest(format!("sha256:{}", hex.to_ascii_lowercase()))
        }
        Some(_) => return Err(p.mismatch("{':', '@', '/', <EOF>}")),
    };
    if p.peek().is_some() {
        return Err(p.mismatch("<EOF>"));
    }
    Ok(RemoteName {
        host,
        namespace,
        reference,
    })
}

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn mismatch(&self, expecting: &str) -> String {
        let found = match self.peek() {
            Some(c) => format!("'{c}'"),
            None => "'<EOF>'".to_string(),
        };
        format!(
            "mismatched input {found} expecting {expecting} (character {})",
            self.at
        )
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.mismatch(&format!("'{c}'")))
        }
    }

    /// One or more characters matching `ok`.
    fn run(&mut self, ok: impl Fn(char) -> bool, what: &str) -> Result<String, String> {
        let start = self.at;
        while self.peek().is_some_and(&ok) {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.mismatch(what));
        }
        Ok(self.chars[start..self.at].iter().collect())
    }

    /// Alphanumeric runs joined by single separators from `separators`.
    fn component(&mut self, separators: &str, what: &str) -> Result<String, String> {
        let mut text = self.run(|c| c.is_ascii_alphanumeric(), what)?;
        while let Some(c) = self.peek() {
            let next_is_alnum = self
                .chars
                .get(self.at + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric());
            if separators.contains(c) && next_is_alnum {
                self.at += 1;
                text.push(c);
                text.push_str(&self.run(|c| c.is_ascii_alphanumeric(), what)?);
            } else {
                break;
            }
        }
        Ok(text)
    }

    fn host(&mut self) -> Result<String, String> {
        let mut host = self.component(".-", "LETTER")?;
        if self.peek() == Some(':') {
            self.at += 1;
            host.push(':');
            host.push_str(&self.run(|c| c.is_ascii_digit(), "DIGIT")?);
        }
        Ok(host)
    }

    fn namespace(&mut self) -> Result<String, String> {
        let mut namespace = self.component("._-", "LETTER")?;
        while self.peek() == Some('/') {
            self.at += 1;
            namespace.push('/');
            namespace.push_str(&self.component("._-", "LETTER")?);
        }
        Ok(namespace)
    }
}

/// One image in the OCI cache, as `list` shows it.
#[derive(Debug)]
pub struct CachedImage {
    /// `host/ns:tag` or `host/ns@sha256:…`, percent-decoding undone.
    pub name: String,
    /// The image directory (the symlink's target for tags).
    pub dir: VmDir,
    /// The path of the entry itself (symlink or digest directory).
    pub entry: PathBuf,
}

/// Every initialised image under `cache/OCIs`, sorted by name.
pub fn cached_images(home: &Home) -> Vec<CachedImage> {
    let mut images = Vec::new();
    walk(&home.oci_dir(), "", &mut images);
    images.sort_by(|a, b| a.name.cmp(&b.name));
    images
}

fn walk(dir: &Path, prefix: &str, images: &mut Vec<CachedImage>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let leaf = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let parent_name = percent_decode(prefix);
        if meta.file_type().is_symlink() {
            let Ok(target) = fs::canonicalize(&path) else {
                continue;
            };
            let image = VmDir::at(target);
            if image.initialized() {
                images.push(CachedImage {
                    name: format!("{parent_name}:{leaf}"),
                    dir: image,
                    entry: path,
                });
            }
        } else if meta.is_dir() && leaf.starts_with("sha256:") {
            let image = VmDir::at(path.clone());
            if image.initialized() {
                images.push(CachedImage {
                    name: format!("{parent_name}@{leaf}"),
                    dir: image,
                    entry: path,
                });
            }
        } else if meta.is_dir() {
            let child = if prefix.is_empty() {
                leaf
            } else {
                format!("{prefix}/{leaf}")
            };
            walk(&path, &child, images);
        }
    }
}

/// Undoes the percent-encoding of host names (`localhost%3A5000`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
