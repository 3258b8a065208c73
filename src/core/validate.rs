//! Input allow-lists: VM names and OCI references. Nothing reaches `tart` unless it
//! passes here (SECURITY.md promise 6).
//!
//! VM names: anything tart accepts as a local name (api-next.md §1): spaces, punctuation
//! and any Unicode, up to [`MAX_VM_NAME_BYTES`] bytes of UTF-8. Refused is only what
//! could be read as a path or an option: the empty name, `.` and `..`, a `/`, a control
//! character (U+0000–U+001F, U+007F) and a leading `-`. Names reach `tart` only as argv
//! elements after `--`, never through a shell, and never become file names unsanitized.
//!
//! OCI references follow tart's grammar (`tart-cli.md` §2.7):
//! `host[:port]/namespace[/more…][:tag | @sha256:<64 hex>]`.

use crate::limits::{MAX_OCI_REFERENCE_BYTES, MAX_VM_NAME_BYTES};

/// Why a VM name or OCI reference was refused, in words for the `detail` field.
pub type Invalid = String;

/// Checks a local VM name (see the module documentation).
pub fn vm_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err("VM name must not be empty".into());
    }
    if name.len() > MAX_VM_NAME_BYTES {
        return Err(format!("VM name is longer than {MAX_VM_NAME_BYTES} bytes"));
    }
    if name == "." || name == ".." {
        return Err("VM name must not be \".\" or \"..\"".into());
    }
    if name.starts_with('-') {
        return Err("VM name must not start with '-'".into());
    }
    if name.contains('/') {
        return Err("VM name must not contain '/'".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_ascii_control()) {
        return Err(format!(
            "VM name must not contain control characters (found U+{:04X})",
            c as u32
        ));
    }
    Ok(())
}

/// Checks an OCI reference against tart's reference grammar.
pub fn oci_reference(reference: &str) -> Result<(), Invalid> {
    if reference.is_empty() {
        return Err("OCI reference must not be empty".into());
    }
    if reference.len() > MAX_OCI_REFERENCE_BYTES {
        return Err(format!(
            "OCI reference is longer than {MAX_OCI_REFERENCE_BYTES} bytes"
        ));
    }
    if reference.contains("://") {
        return Err("OCI reference must not have a scheme (drop the https://)".into());
    }
    let Some((host, rest)) = reference.split_once('/') else {
        return Err(
            "OCI reference needs a registry host and a repository, e.g. ghcr.io/org/image:tag"
                .into(),
        );
    };
    registry_host(host)?;
    let (repository, tag, digest) = match rest.split_once('@') {
        Some((repo, digest)) => (repo, None, Some(digest)),
        None => match rest.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag), None),
            None => (rest, None, None),
        },
    };
    if repository.is_empty() || !repository.split('/').all(path_component) {
        return Err(format!(
            "invalid repository {repository:?}: components are lowercase letters and digits joined by single '.', '_' or '-'"
        ));
    }
    if let Some(tag) = tag {
        // tart's `tag: name (separator name)*`, at most 128 bytes (OCI).
        let bytes = tag.as_bytes();
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !bytes
                .windows(2)
                .any(|w| b"._-".contains(&w[0]) && b"._-".contains(&w[1]));
        if !ok {
            return Err(format!("invalid tag {tag:?}"));
        }
    }
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("invalid digest: expected sha256: followed by 64 hex digits".into());
        }
    }
    Ok(())
}

/// `name[.name…][:port]`, each name letters and digits joined by single `-`.
pub fn registry_host(host: &str) -> Result<(), Invalid> {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    // tart's `host_component: name ('-' name)*`: single dashes between alphanumeric runs.
    let names_ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .split('-')
                    .all(|run| !run.is_empty() && run.bytes().all(|b| b.is_ascii_alphanumeric()))
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if names_ok && port_ok {
        Ok(())
    } else {
        Err(format!("invalid registry host {host:?}"))
    }
}

/// One repository path component, tart's `namespace_component: (name separator?)+` with
/// the OCI distribution spec's lowercase: runs of lowercase letters and digits, each
/// followed by at most one `.`, `_` or `-`.
fn path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_lower_alnum(bytes[0]) {
        return false;
    }
    let mut after_separator = false;
    for &b in bytes {
        if is_lower_alnum(b) {
            after_separator = false;
        } else if b"._-".contains(&b) && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names() {
        for ok in [
            "ubuntu",
            "sequoia-base",
            "a",
            "VM_1.2+x",
            "my vm (dev)",
            "taart-ü-文",
            "Sonoma 14.5 — Xcode",
            ".hidden",
            "_x",
            "a;rm -rf ~",
            "...",
            "a\\b",
            &"é".repeat(127),
            &"a".repeat(255),
        ] {
            assert_eq!(vm_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-rf",
            "--help",
            ".",
            "..",
            "a/b",
            "../x",
            "a\nb",
            "a\0b",
            "a\x1bb",
            "a\x7f",
            "\t",
            &"a".repeat(256),
            &"é".repeat(128),
        ] {
            assert!(vm_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oci_references() {
        for ok in [
            "ghcr.io/cirruslabs/macos-ventura-base:latest",
            "ghcr.io/cirruslabs/macos-sequoia-base",
            "localhost:5000/a/b/c:v1.2_3",
            "registry/library/ubuntu",
            "ghcr.io/org/img@sha256:3c1e6e4f0b9a7d2c5e8f1a4b7c0d3e6f9a2b5c8d1e4f7a0b3c6d9e2f5a8b1c4d",
            "my-registry.example.com/a_b/c-d",
            "ghcr.io/org/img:V1.2-rc_3",
        ] {
            assert_eq!(oci_reference(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "ubuntu",
            "debian:latest",
            "https://ghcr.io/a/b",
            "ghcr.io/",
            "ghcr.io/a/",
            "ghcr.io/a:",
            "ghcr.io/a@sha256:abc",
            "-ghcr.io/a",
            "ghcr.io/a b",
            "ghcr.io/a;b",
            "ghcr.io/a/b:-tag",
            "gh cr.io/a",
            "ghcr.io:port/a",
            "ghcr.io/-a",
            "ghcr.io/Org/img",
            "ghcr.io/a__b/c",
            "ghcr.io/a/c--d",
            "my--registry.io/a",
            "ghcr.io/a/b:v1..2",
            "ghcr.io/a/b:v1-",
        ] {
            assert!(oci_reference(bad).is_err(), "{bad:?}");
        }
    }
}
