//! `config.json`: reading tart's VM configuration and writing it back the way tart does
//! (pretty, unsorted, memory in bytes, `/` escaped).
//!
//! Writes to an existing file happen in place (truncate + write on the same inode): a
//! running VM's `tart run` holds a record lock on that inode, and `tart set` must not
//! make it disappear by replacing the file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::failure::Failure;
use crate::ids;
use crate::json::Json;

/// Bytes in a MiB (`--memory` and `get`'s `Memory` are MiB; config.json stores bytes).
pub const MIB: u64 = 1024 * 1024;

/// The screen size config.json defaults to when `display` is missing.
const DEFAULT_DISPLAY: (u64, u64) = (1024, 768);

/// A VM's configuration.
#[derive(Debug, Clone)]
pub struct VmConfig {
    pub os: String,
    pub arch: String,
    pub cpu_count_min: u64,
    pub cpu_count: u64,
    pub memory_size_min: u64,
    pub memory_size: u64,
    pub mac_address: String,
    pub display_width: u64,
    pub display_height: u64,
    pub display_unit: Option<String>,
    pub display_refit: Option<bool>,
    pub disk_format: String,
    pub ecid: Option<String>,
    pub hardware_model: Option<String>,
}

impl VmConfig {
    /// A fresh `create --linux` configuration: 4 CPUs, 4 GiB, random MAC.
    pub fn new_linux(disk_format: &str) -> VmConfig {
        VmConfig {
            os: "linux".into(),
            arch: "arm64".into(),
            cpu_count_min: 4,
            cpu_count: 4,
            memory_size_min: 4096 * MIB,
            memory_size: 4096 * MIB,
            mac_address: ids::random_mac(),
            display_width: DEFAULT_DISPLAY.0,
            display_height: DEFAULT_DISPLAY.1,
            display_unit: None,
            display_refit: None,
            disk_format: disk_format.into(),
            ecid: None,
            hardware_model: None,
        }
    }

    /// A macOS guest as installed from an IPSW: the image's minimums (4 CPUs, 4 GiB)
    /// plus a random ECID and a plausible hardware model blob.
    pub fn new_darwin(disk_format: &str) -> VmConfig {
        VmConfig {
            os: "darwin".into(),
            ecid: Some(ids::base64(&ids::random_bytes::<8>())),
            hardware_model: Some(ids::base64(
                b"\x01\x00\x00\x00\x02\x00\x00\x00\xfe\x00\x00\x00\x00\x00\x00\x00",
            )),
            ..VmConfig::new_linux(disk_format)
        }
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<VmConfig, Failure> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Failure::io("reading config.json", e))?;
        VmConfig::parse(&text).map_err(Failure::Error)
    }

    /// Parses config.json text, applying tart's defaults for missing keys.
    pub fn parse(text: &str) -> Result<VmConfig, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            format!("The data couldn't be read because it isn't in the correct format. ({e})")
        })?;
        let str_of = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let int_of = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("keyNotFound: \"{key}\""))
        };
        let display = value.get("display");
        let display_int = |key: &str, default: u64| {
            display
                .and_then(|d| d.get(key))
                .and_then(Value::as_u64)
                .unwrap_or(default)
        };
        let disk_format = match str_of("diskFormat").as_deref() {
            Some("asif") => "asif".to_string(),
            _ => "raw".to_string(),
        };
        Ok(VmConfig {
            os: str_of("os").unwrap_or_else(|| "darwin".into()),
            arch: str_of("arch").unwrap_or_else(|| "arm64".into()),
            cpu_count_min: int_of("cpuCountMin")?,
            cpu_count: int_of("cpuCount")?,
            memory_size_min: int_of("memorySizeMin")?,
            memory_size: int_of("memorySize")?,
            mac_address: str_of("macAddress").ok_or("keyNotFound: \"macAddress\"")?,
            display_width: display_int("width", DEFAULT_DISPLAY.0),
            display_height: display_int("height", DEFAULT_DISPLAY.1),
            display_unit: display
                .and_then(|d| d.get("unit"))
                .and_then(Value::as_str)
                .map(str::to_string),
            display_refit: value.get("displayRefit").and_then(Value::as_bool),
            disk_format,
            ecid: str_of("ecid"),
            hardware_model: str_of("hardwareModel"),
        })
    }

    /// `1024x768`, `1920x1080px`.
    pub fn display_label(&self) -> String {
        format!(
            "{}x{}{}",
            self.display_width,
            self.display_height,
            self.display_unit.as_deref().unwrap_or("")
        )
    }

    /// The config as tart writes it.
    pub fn to_json_text(&self) -> String {
        let mut display = vec![
            ("width", Json::Int(self.display_width as i64)),
            ("height", Json::Int(self.display_height as i64)),
        ];
        if let Some(unit) = &self.display_unit {
            display.push(("unit", Json::str(unit)));
        }
        let mut members = vec![
            ("version", Json::Int(1)),
            ("os", Json::str(&self.os)),
            ("arch", Json::str(&self.arch)),
            ("cpuCountMin", Json::Int(self.cpu_count_min as i64)),
            ("cpuCount", Json::Int(self.cpu_count as i64)),
            ("memorySizeMin", Json::Int(self.memory_size_min as i64)),
            ("memorySize", Json::Int(self.memory_size as i64)),
            ("macAddress", Json::str(&self.mac_address)),
            ("display", Json::obj(display)),
        ];
        if let Some(refit) = self.display_refit {
            members.push(("displayRefit", Json::Bool(refit)));
        }
        members.push(("diskFormat", Json::str(&self.disk_format)));
        if let Some(ecid) = &self.ecid {
            members.push(("ecid", Json::str(ecid)));
        }
        if let Some(model) = &self.hardware_model {
            members.push(("hardwareModel", Json::str(model)));
        }
        Json::obj(members).pretty()
    }

    /// Writes the config to `path` in place (same inode if it exists). Between truncating
    /// and writing, a reader sees an empty file for `TART_SIM_CONFIG_WRITE_MS`.
    pub fn save(&self, path: &Path) -> Result<(), Failure> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| Failure::io("writing config.json", e))?;
        std::thread::sleep(crate::knobs::config_write_delay());
        file.write_all(self.to_json_text().as_bytes())
            .map_err(|e| Failure::io("writing config.json", e))
    }
}
