//! Parsers for what `tart` prints, tolerant of every version in `tart-cli.md` §3: any
//! key order, keys missing or added, `Source` in either case, `State` preferred over the
//! older `Running`, `Size` as a number (`list`) or a string (`get`).

use serde_json::{Map, Value};

/// One row of `tart list --format json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntry {
    pub name: String,
    /// `local` or `oci`, lower-cased.
    pub source: Option<String>,
    /// tart's own state: `running`, `stopped`, `suspended`, or whatever a newer tart says.
    pub state: Option<String>,
    /// Apparent disk size, GB.
    pub disk_gb: Option<u64>,
    /// Allocated size, GB.
    pub size_gb: Option<f64>,
    /// Last access, ISO-8601.
    pub accessed: Option<String>,
}

/// The interesting part of `tart get --format json`; the whole object is kept as `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmDetails {
    pub os: Option<String>,
    pub cpu: Option<u64>,
    /// MiB.
    pub memory_mib: Option<u64>,
    /// GB.
    pub disk_gb: Option<u64>,
    pub display: Option<String>,
    pub disk_format: Option<String>,
    pub state: Option<String>,
    pub raw: Value,
}

/// Parses a local VM's `config.json` (`tart-cli.md` §1.2) into what `tart get` would say
/// of it, with tart's defaults for missing keys. `cpuCount` and `memorySize` must be
/// there: without them the file is not one we understand, and the caller asks `tart get`.
pub fn vm_config_file(text: &str) -> Result<VmDetails, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("config.json is not JSON ({e})"))?;
    let obj = value
        .as_object()
        .ok_or("config.json is not a JSON object")?;
    let cpu = obj
        .get("cpuCount")
        .and_then(Value::as_u64)
        .ok_or("config.json has no cpuCount")?;
    let memory_bytes = obj
        .get("memorySize")
        .and_then(Value::as_u64)
        .ok_or("config.json has no memorySize")?;
    let os = string(obj, "os").unwrap_or_else(|| "darwin".to_string());
    let disk_format = match obj.get("diskFormat").and_then(Value::as_str) {
        Some("asif") => "asif",
        _ => "raw",
    };
    Ok(VmDetails {
        os: Some(os),
        cpu: Some(cpu),
        memory_mib: Some(memory_bytes / 1024 / 1024),
        disk_gb: None,
        display: Some(display(obj.get("display"))),
        disk_format: Some(disk_format.to_string()),
        state: None,
        raw: Value::Null,
    })
}

/// `config.json`'s display as `tart get` prints it: `1024x768`, `1920x1080px`.
fn display(value: Option<&Value>) -> String {
    let Some(obj) = value.and_then(Value::as_object) else {
        return "1024x768".to_string();
    };
    let side = |key: &str| obj.get(key).and_then(Value::as_u64);
    match (side("width"), side("height")) {
        (Some(w), Some(h)) => {
            let unit = obj.get("unit").and_then(Value::as_str).unwrap_or("");
            format!("{w}x{h}{unit}")
        }
        _ => "1024x768".to_string(),
    }
}

/// Parses `tart list --format json`. Entries without a `Name` are skipped.
pub fn list(stdout: &str) -> Result<Vec<ListEntry>, String> {
    let value: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("tart list printed something that is not JSON ({e})"))?;
    let rows = value
        .as_array()
        .ok_or("tart list did not print a JSON array")?;
    Ok(rows
        .iter()
        .filter_map(Value::as_object)
        .filter_map(list_entry)
        .collect())
}

fn list_entry(row: &Map<String, Value>) -> Option<ListEntry> {
    Some(ListEntry {
        name: string(row, "Name")?,
        source: string(row, "Source").map(|s| s.to_ascii_lowercase()),
        state: state(row),
        disk_gb: number(row, "Disk").map(|n| n as u64),
        size_gb: number(row, "Size"),
        accessed: string(row, "Accessed"),
    })
}

/// Parses `tart get --format json`.
pub fn details(stdout: &str) -> Result<VmDetails, String> {
    let raw: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("tart get printed something that is not JSON ({e})"))?;
    let obj = raw
        .as_object()
        .ok_or("tart get did not print a JSON object")?;
    Ok(VmDetails {
        os: string(obj, "OS"),
        cpu: number(obj, "CPU").map(|n| n as u64),
        memory_mib: number(obj, "Memory").map(|n| n as u64),
        disk_gb: number(obj, "Disk").map(|n| n as u64),
        display: string(obj, "Display"),
        disk_format: string(obj, "DiskFormat"),
        state: state(obj),
        raw: raw.clone(),
    })
}

/// `State` if present, else `Running` mapped to `running`/`stopped`.
fn state(obj: &Map<String, Value>) -> Option<String> {
    string(obj, "State").or_else(|| {
        obj.get("Running")
            .and_then(Value::as_bool)
            .map(|r| if r { "running" } else { "stopped" }.to_string())
    })
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A number, or a string holding one (`get`'s `Size` is `"22.181"`).
fn number(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    match obj.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first dotted-quad IPv4 address in `tart ip`'s output.
pub fn ip(stdout: &str) -> Option<String> {
    let candidate = stdout.split_whitespace().next()?;
    candidate
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// The URL in `VNC server is running at <url>` or `Opening <url>...`.
pub fn vnc_url(line: &str) -> Option<String> {
    let url = if let Some(rest) = line.strip_prefix("VNC server is running at ") {
        rest.trim()
    } else {
        line.strip_prefix("Opening ")?.trim().strip_suffix("...")?
    };
    url.starts_with("vnc://").then(|| url.to_string())
}

/// The host of a `vnc://[user:pass@]host[:port]` URL, when it is an IPv4 address other
/// than loopback (`--vnc-experimental` serves on 127.0.0.1, which is not the VM's IP).
pub fn ip_from_vnc_url(url: &str) -> Option<String> {
    let rest = url.strip_prefix("vnc://")?;
    let host_port = rest.rsplit('@').next()?;
    let host = host_port.split(':').next()?;
    let ip: std::net::Ipv4Addr = host.parse().ok()?;
    (!ip.is_loopback()).then(|| ip.to_string())
}

/// A progress line (`42%`) as a number.
pub fn progress(line: &str) -> Option<f64> {
    let digits = line.trim().strip_suffix('%')?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<f64>().ok().filter(|p| *p <= 100.0)
}

/// Removes ANSI escape sequences and carriage-return rewrites from a line, keeping what
/// a terminal would finally show.
pub fn clean_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // CSI: parameters and intermediates up to a final byte in @..~
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => out.clear(),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_tolerates_versions() {
        let out = r#"[
  { "State" : "running", "Size" : 23, "Name" : "sequoia-base", "Running" : true, "Disk" : 50, "Source" : "local" },
  { "Name" : "ghcr.io\/cirruslabs\/macos:latest", "Running" : false, "Source" : "OCI", "Disk" : 50, "Size" : 23 },
  { "Name" : "old", "Running" : true, "Source" : "oci", "SizeOnDisk" : 3 },
  { "Source" : "local" }
]"#;
        let rows = list(out).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].state.as_deref(), Some("running"));
        assert_eq!(rows[1].name, "ghcr.io/cirruslabs/macos:latest");
        assert_eq!(rows[1].source.as_deref(), Some("oci"));
        assert_eq!(rows[1].state.as_deref(), Some("stopped"));
        assert_eq!(rows[2].state.as_deref(), Some("running"));
        assert_eq!(list("[\n\n]\n").unwrap(), vec![]);
        assert!(list("Source Name").is_err());
    }

    #[test]
    fn get_parses_sizes_as_strings() {
        let d = details(r#"{"CPU":4,"Memory":8192,"Disk":50,"Size":"22.181","Display":"1024x768","OS":"darwin","State":"stopped"}"#).unwrap();
        assert_eq!(
            (d.cpu, d.memory_mib, d.disk_gb),
            (Some(4), Some(8192), Some(50))
        );
    }

    #[test]
    fn lines() {
        assert_eq!(clean_line("\x1b[1A\r\x1b[J42%"), "42%");
        assert_eq!(clean_line("10%\r20%"), "20%");
        assert_eq!(progress("42%"), Some(42.0));
        assert_eq!(progress("1000%"), None);
        assert_eq!(progress("pulling disk (25.3 GB compressed)..."), None);
        assert_eq!(
            vnc_url("VNC server is running at vnc://192.168.64.3").as_deref(),
            Some("vnc://192.168.64.3")
        );
        assert_eq!(
            vnc_url("Opening vnc://:pw@127.0.0.1:5900...").as_deref(),
            Some("vnc://:pw@127.0.0.1:5900")
        );
        assert_eq!(
            ip_from_vnc_url("vnc://192.168.64.3").as_deref(),
            Some("192.168.64.3")
        );
        assert_eq!(ip_from_vnc_url("vnc://:pw@127.0.0.1:5900"), None);
        assert_eq!(ip("192.168.64.3\n").as_deref(), Some("192.168.64.3"));
        assert_eq!(ip("no IP"), None);
    }
}
