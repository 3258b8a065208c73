//! The catalog of images one can make a VM from, shipped with the server.
//!
//! `GET /api/vms/available-images` answers from this table without any network access
//! or GitHub token: Cirrus Labs' public macOS and Linux images on ghcr.io (the ones
//! tart's quick-start lists), each with a description and its usual tags. Whether a tag
//! is already pulled is read from the local OCI cache (`cache/OCIs/<host>/<ns>/<tag>`)
//! with `stat` only, so looking never bumps an image's access date.
//!
//! Plain data and functions; no state, no threads.

use crate::backend::host::Backend;

/// When the table below was last checked against ghcr.io (what `updated_at` says).
pub const CATALOG_CHECKED: &str = "2026-11-01";

/// One image of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct CatalogImage {
    /// The short name, e.g. `macos-sequoia-base`.
    pub name: &'static str,
    /// `darwin` or `linux`.
    pub os: &'static str,
    pub description: &'static str,
    /// The usual tags, the default first.
    pub tags: &'static [&'static str],
}

/// Cirrus Labs' public images (tart docs, "VM images"). The macOS ones come in three
/// flavours per release: vanilla (a fresh install with the `admin` user and SSH),
/// base (plus Homebrew and common tools) and xcode (plus Xcode).
pub const CATALOG: &[CatalogImage] = &[
    mac(
        "macos-tahoe-xcode",
        "macOS 26 Tahoe with Xcode, Homebrew and the usual CI tools.",
        &["latest", "26"],
    ),
    mac(
        "macos-tahoe-base",
        "macOS 26 Tahoe with Homebrew and common tools; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-tahoe-vanilla",
        "A fresh macOS 26 Tahoe install with SSH on; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-sequoia-xcode",
        "macOS 15 Sequoia with Xcode, Homebrew and the usual CI tools.",
        &["latest", "16", "16.4"],
    ),
    mac(
        "macos-sequoia-base",
        "macOS 15 Sequoia with Homebrew and common tools; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-sequoia-vanilla",
        "A fresh macOS 15 Sequoia install with SSH on; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-sonoma-xcode",
        "macOS 14 Sonoma with Xcode, Homebrew and the usual CI tools.",
        &["latest", "15", "15.4"],
    ),
    mac(
        "macos-sonoma-base",
        "macOS 14 Sonoma with Homebrew and common tools; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-sonoma-vanilla",
        "A fresh macOS 14 Sonoma install with SSH on; user admin / admin.",
        &["latest"],
    ),
    mac(
        "macos-ventura-base",
        "macOS 13 Ventura with Homebrew and common tools; user admin / admin.",
        &["latest"],
    ),
    linux(
        "ubuntu",
        "Ubuntu Server for arm64 with cloud-init; user admin / admin. 20 GB disk: grow it after cloning.",
        &["latest", "24.04", "22.04"],
    ),
    linux(
        "debian",
        "Debian for arm64; user admin / admin. 20 GB disk: grow it after cloning.",
        &["latest"],
    ),
    linux(
        "fedora",
        "Fedora for arm64; user admin / admin. 20 GB disk: grow it after cloning.",
        &["latest"],
    ),
];

const fn mac(
    name: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
) -> CatalogImage {
    image(name, "darwin", description, tags)
}

const fn linux(
    name: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
) -> CatalogImage {
    image(name, "linux", description, tags)
}

const fn image(
    name: &'static str,
    os: &'static str,
    description: &'static str,
    tags: &'static [&'static str],
) -> CatalogImage {
    CatalogImage {
        name,
        os,
        description,
        tags,
    }
}

/// The repository of a catalog image, without a tag:
/// `ghcr.io/cirruslabs/macos-sequoia-base`.
pub fn repository(image: &CatalogImage) -> String {
    format!("ghcr.io/cirruslabs/{}", image.name)
}

/// The tags of `image` that are in the OCI cache under `home` (a tag symlink whose
/// target holds the three files tart requires).
pub fn pulled_tags(host: &dyn Backend, image: &CatalogImage) -> Vec<&'static str> {
    let repo = repository(image);
    image
        .tags
        .iter()
        .copied()
        .filter(|tag| host.has_image(&repo, tag))
        .collect()
}

/// The catalog as `GET /api/vms/available-images` answers it:
/// `[{"name", "url", "description", "tags", "updated_at", "pulled", "pulled_tags", "os"}]`.
/// `pulled` is true when any of the image's tags is in the cache.
pub fn available_images(host: &dyn Backend) -> serde_json::Value {
    CATALOG
        .iter()
        .map(|image| {
            let pulled = pulled_tags(host, image);
            serde_json::json!({
                "name": image.name,
                "url": repository(image),
                "os": image.os,
                "description": image.description,
                "tags": image.tags,
                "updated_at": CATALOG_CHECKED,
                "pulled": !pulled.is_empty(),
                "pulled_tags": pulled,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_a_reference_tart_accepts() {
        for image in CATALOG {
            assert!(!image.tags.is_empty(), "{} has tags", image.name);
            for tag in image.tags {
                let reference = format!("{}:{tag}", repository(image));
                assert!(
                    crate::core::validate::oci_reference(&reference).is_ok(),
                    "{reference}"
                );
            }
        }
    }

    /// The local tart backend over the home `home` (no `tart` is ever run).
    fn local(home: &std::path::Path) -> crate::backend::tart::LocalTart {
        use crate::backend::tart::{CliRunner, LocalTart, Tart};
        let (_, never) = crossbeam_channel::bounded(0);
        let env = vec![("TART_HOME".into(), home.as_os_str().to_owned())];
        let runner = CliRunner::new("tart".into(), "tart".into(), env, never);
        let tart = Tart::new(runner, std::time::Duration::from_secs(1));
        LocalTart::new(tart, Default::default(), home.join("logs"))
    }

    #[test]
    fn pulled_follows_the_cache() {
        let home = std::env::temp_dir().join(format!("tf-catalog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let host = local(&home);
        let ubuntu = CATALOG.iter().find(|i| i.name == "ubuntu").unwrap();
        assert!(pulled_tags(&host, ubuntu).is_empty());
        let repo = home.join("cache/OCIs/ghcr.io/cirruslabs/ubuntu");
        let digest = repo.join("sha256:00");
        std::fs::create_dir_all(&digest).unwrap();
        for f in ["config.json", "disk.img", "nvram.bin"] {
            std::fs::write(digest.join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink(&digest, repo.join("22.04")).unwrap();
        assert_eq!(pulled_tags(&host, ubuntu), ["22.04"]);
        let all = available_images(&host);
        let row = all
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "ubuntu")
            .unwrap();
        assert_eq!(row["pulled"], true);
        assert_eq!(row["url"], "ghcr.io/cirruslabs/ubuntu");
        let elsewhere = local(&home.join("elsewhere"));
        assert_eq!(available_images(&elsewhere)[0]["pulled"], false);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
