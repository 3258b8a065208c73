//! The handlers of the lifecycle routes (api-next §2–§3): create, clone, categorized,
//! available-images, active tasks, settings, rename, suspend, prune preview and prune,
//! registry login and logout.
//!
//! Each checks its body (422, all problems at once), then the names (a bad name in the
//! path is a 404: no such VM can exist), then the VM's *current* state (404/409, read
//! afresh from `$TART_HOME`, see `core::ops::current_state`), and only then queues the
//! operation and answers 202 with the Task.

use std::sync::Arc;

use serde_json::{Value, json};

use super::body::{Fields, not_one_of};
use super::handlers::accepted;
use super::reply::{Body, Reply};
use super::state::Web;
use crate::backend::host::{EmptyOs, Entries, Password, PruneOptions, SetChanges, total_bytes};
use crate::core::ops::create::{Clone, Create};
use crate::core::ops::prune::Prune;
use crate::core::ops::registry::{Login, Logout};
use crate::core::ops::rename::Rename;
use crate::core::ops::settings::Settings;
use crate::core::ops::suspend::Suspend;
use crate::core::{catalog, validate};
use crate::limits::{
    DEFAULT_NEW_DISK_GB, MAX_IPSW_BYTES, MAX_REGISTRY_PASSWORD_BYTES, MAX_REGISTRY_USERNAME_BYTES,
    VM_CPU_RANGE, VM_DISK_GB_RANGE, VM_MEMORY_GB_RANGE,
};
use crate::web::error::Error;

/// Largest `older_than_days` accepted (100 years): anything more means "everything".
const MAX_OLDER_THAN_DAYS: u64 = 36_500;

/// Largest `space_budget_gb` accepted (1,000,000 GiB, a petabyte).
const MAX_SPACE_BUDGET_GB: u64 = 1_000_000;

/// Largest display side accepted in pixels (16,384): beyond any real screen.
const MAX_DISPLAY_SIDE: u64 = 16_384;

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("VM {name:?} not found"))
}

/// A VM name from the path: one that breaks the name rule cannot exist (404).
fn path_name(name: &str) -> Result<(), Error> {
    validate::vm_name(name).map_err(|_| not_found(name))
}

/// A new VM name from a body field: 422 when it breaks the rule.
fn new_name(fields: &mut Fields, field: &str) -> Option<String> {
    let name = fields.required_string(field)?;
    match validate::vm_name(&name) {
        Ok(()) => Some(name),
        Err(why) => {
            fields.value_error(field, why);
            None
        }
    }
}

/// `POST /api/vms/create`.
pub fn create(web: &Arc<Web>, body: Option<Value>) -> Result<Reply, Error> {
    let mut f = Fields::new(body, false)?;
    let name = new_name(&mut f, "name");
    let source = f.string("source_vm").filter(|s| !s.is_empty());
    if let Some(source) = &source
        && validate::vm_name(source).is_err()
        && let Err(why) = validate::oci_reference(source)
    {
        f.value_error(
            "source_vm",
            format!("not a VM name nor an image reference: {why}"),
        );
    }
    let os = f.string("os");
    let macos = match os.as_deref() {
        None | Some("linux") => false,
        Some("macos") => true,
        Some(_) => {
            not_one_of(&mut f, "os", &["linux", "macos"]);
            false
        }
    };
    let ipsw = f.string("ipsw");
    if let Some(ipsw) = &ipsw
        && let Err(why) = check_ipsw(ipsw)
    {
        f.value_error("ipsw", why);
    }
    if ipsw.is_some() && (!macos || source.is_some()) {
        f.value_error(
            "ipsw",
            "an IPSW only makes an empty macOS VM (\"os\": \"macos\")",
        );
    }
    let cpu = f.int("cpu", VM_CPU_RANGE.0, VM_CPU_RANGE.1);
    let memory = f.int("memory", VM_MEMORY_GB_RANGE.0, VM_MEMORY_GB_RANGE.1);
    let disk = f.int("disk_size", VM_DISK_GB_RANGE.0, VM_DISK_GB_RANGE.1);
    f.finish()?;
    let empty = if macos {
        EmptyOs::Macos {
            ipsw: ipsw.unwrap_or_else(|| "latest".into()),
        }
    } else {
        EmptyOs::Linux
    };
    accepted(
        web,
        Create {
            name: name.expect("checked above"),
            source,
            empty,
            cpu,
            memory_gb: memory,
            disk_gb: disk.unwrap_or(DEFAULT_NEW_DISK_GB),
            disk_given: disk.is_some(),
        },
    )
}

/// `latest`, an http(s) URL or an absolute path; never something tart could read as an
/// option, never a control character.
fn check_ipsw(ipsw: &str) -> Result<(), String> {
    if ipsw.len() > MAX_IPSW_BYTES {
        return Err(format!("longer than {MAX_IPSW_BYTES} bytes"));
    }
    if ipsw.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    let ok = ipsw == "latest"
        || ((ipsw.starts_with("https://") || ipsw.starts_with("http://"))
            && !ipsw.contains(char::is_whitespace))
        || ipsw.starts_with('/');
    if ok {
        Ok(())
    } else {
        Err("use \"latest\", an https:// URL or an absolute path to an .ipsw file".into())
    }
}

/// `POST /api/vms/{name}/clone`: `{name}` is a local VM or an image reference.
pub fn clone(web: &Arc<Web>, source: &str, body: Option<Value>) -> Result<Reply, Error> {
    if validate::vm_name(source).is_err() && validate::oci_reference(source).is_err() {
        return Err(not_found(source));
    }
    let mut f = Fields::new(body, false)?;
    let target = new_name(&mut f, "new_name");
    let start = f.bool("start_after_clone").unwrap_or(false);
    f.finish()?;
    accepted(
        web,
        Clone {
            source: source.to_string(),
            new_name: target.expect("checked above"),
            start_after: start,
        },
    )
}

/// `GET /api/vms/categorized`: cached images and local VMs, as two lists of VM rows.
pub fn categorized(web: &Web) -> Reply {
    let app = &web.core;
    let rows: Vec<Value> = serde_json::from_slice(&app.inventory.json()).unwrap_or_default();
    let (images, vms): (Vec<Value>, Vec<Value>) = rows
        .into_iter()
        .partition(|vm| vm["source"].as_str() == Some("oci"));
    Reply::json(200, &json!({ "base_images": images, "working_vms": vms }))
}

/// `GET /api/vms/available-images`.
pub fn available_images(web: &Web) -> Reply {
    let app = &web.core;
    Reply::json(200, &catalog::available_images(app.backend.as_ref()))
}

/// `GET /api/tasks/active`.
pub fn active_tasks(web: &Web) -> Reply {
    let app = &web.core;
    Reply::json_bytes(200, Body::Owned(app.tasks.active_json()))
}

/// `POST /api/vms/{name}/settings`.
pub fn settings(web: &Arc<Web>, name: &str, body: Option<Value>) -> Result<Reply, Error> {
    path_name(name)?;
    let mut f = Fields::new(body, false)?;
    let cpu = f.int("cpu", VM_CPU_RANGE.0, VM_CPU_RANGE.1);
    let memory = f.int("memory", VM_MEMORY_GB_RANGE.0, VM_MEMORY_GB_RANGE.1);
    let disk = f.int("disk_size", VM_DISK_GB_RANGE.0, VM_DISK_GB_RANGE.1);
    let random_mac = f.bool("random_mac").unwrap_or(false);
    let display = f.string("display");
    if let Some(d) = &display
        && !is_display(d)
    {
        f.value_error(
            "display",
            format!(
                "use WIDTHxHEIGHT in pixels, e.g. 1920x1080 (each side 1 to {MAX_DISPLAY_SIDE})"
            ),
        );
    }
    let changes = SetChanges {
        cpu,
        memory_mib: memory.map(|gb| gb * 1024),
        display: display.clone(),
        disk_gb: disk,
        random_mac,
        display_refit: None,
    };
    if changes.is_empty() {
        f.invalid_body("nothing to change: give cpu, memory, display, disk_size or random_mac");
    }
    f.finish()?;
    accepted(
        web,
        Settings {
            name: name.to_string(),
            changes,
        },
    )
}

/// `WIDTHxHEIGHT`, each side 1..=MAX_DISPLAY_SIDE.
fn is_display(text: &str) -> bool {
    let side = |s: &str| {
        !s.is_empty()
            && s.len() <= 5
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u64>()
                .is_ok_and(|n| (1..=MAX_DISPLAY_SIDE).contains(&n))
    };
    text.split_once('x')
        .is_some_and(|(w, h)| side(w) && side(h))
}

/// `POST /api/vms/{name}/rename`.
pub fn rename(web: &Arc<Web>, name: &str, body: Option<Value>) -> Result<Reply, Error> {
    path_name(name)?;
    let mut f = Fields::new(body, false)?;
    let target = new_name(&mut f, "new_name");
    f.finish()?;
    accepted(
        web,
        Rename {
            name: name.to_string(),
            new_name: target.expect("checked above"),
        },
    )
}

/// `POST /api/vms/{name}/suspend`.
pub fn suspend(web: &Arc<Web>, name: &str, body: Option<Value>) -> Result<Reply, Error> {
    path_name(name)?;
    Fields::new(body, true)?.finish()?;
    accepted(
        web,
        Suspend {
            name: name.to_string(),
        },
    )
}

/// The options of a prune body.
fn prune_options(body: Option<Value>) -> Result<PruneOptions, Error> {
    let mut f = Fields::new(body, false)?;
    let entries = match f.required_string("entries").as_deref() {
        Some("caches") => Some(Entries::Caches),
        Some("vms") => Some(Entries::Vms),
        Some(_) => {
            not_one_of(&mut f, "entries", &["caches", "vms"]);
            None
        }
        None => None,
    };
    let older_than_days = f.int("older_than_days", 0, MAX_OLDER_THAN_DAYS);
    let space_budget_gb = f.int("space_budget_gb", 0, MAX_SPACE_BUDGET_GB);
    if !f.has("older_than_days") && !f.has("space_budget_gb") {
        f.invalid_body("give older_than_days, space_budget_gb or both");
    }
    f.finish()?;
    Ok(PruneOptions {
        entries: entries.expect("checked above"),
        older_than_days,
        space_budget_gb,
    })
}

/// `POST /api/prune/preview`: what `tart prune` with these options would remove now.
pub fn prune_preview(web: &Web, body: Option<Value>) -> Result<Reply, Error> {
    let options = prune_options(body)?;
    let doomed = web.core.backend.prune_preview(&options)?;
    let total = total_bytes(&doomed);
    let entries: Vec<Value> = doomed.iter().map(|e| e.to_json()).collect();
    Ok(Reply::json(
        200,
        &json!({ "entries": entries, "total_bytes": total }),
    ))
}

/// `POST /api/prune`.
pub fn prune(web: &Arc<Web>, body: Option<Value>) -> Result<Reply, Error> {
    let options = prune_options(body)?;
    accepted(web, Prune { options })
}

/// `POST /api/registries/login`.
pub fn login(web: &Arc<Web>, body: Option<Value>) -> Result<Reply, Error> {
    let mut f = Fields::new(body, false)?;
    f.secret("password");
    let host = registry_host(&mut f);
    let username = f.required_string("username");
    if let Some(user) = &username {
        if user.is_empty() || user.len() > MAX_REGISTRY_USERNAME_BYTES {
            f.value_error(
                "username",
                format!("must be 1 to {MAX_REGISTRY_USERNAME_BYTES} bytes"),
            );
        } else if user.starts_with('-') || user.chars().any(char::is_control) {
            f.value_error(
                "username",
                "must not start with '-' or contain control characters",
            );
        }
    }
    let password = f.required_string("password");
    if let Some(password) = &password {
        if password.is_empty() || password.len() > MAX_REGISTRY_PASSWORD_BYTES {
            f.value_error(
                "password",
                format!("must be 1 to {MAX_REGISTRY_PASSWORD_BYTES} bytes"),
            );
        } else if password.contains(['\n', '\r', '\0']) {
            f.value_error("password", "must be one line");
        }
    }
    let insecure = f.bool("insecure").unwrap_or(false);
    f.finish()?;
    accepted(
        web,
        Login {
            host: host.expect("checked above"),
            username: username.expect("checked above"),
            password: Password::new(password.expect("checked above")),
            insecure,
        },
    )
}

/// `POST /api/registries/logout`.
pub fn logout(web: &Arc<Web>, body: Option<Value>) -> Result<Reply, Error> {
    let mut f = Fields::new(body, false)?;
    let host = registry_host(&mut f);
    f.finish()?;
    accepted(
        web,
        Logout {
            host: host.expect("checked above"),
        },
    )
}

/// A registry host (`ghcr.io`, `localhost:5000`), as tart's reference grammar has it.
fn registry_host(f: &mut Fields) -> Option<String> {
    let host = f.required_string("host")?;
    match validate::registry_host(&host) {
        Ok(()) => Some(host),
        Err(why) => {
            f.value_error("host", why);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_and_ipsws() {
        assert!(is_display("1920x1080"));
        assert!(!is_display("1920x"));
        assert!(!is_display("0x10"));
        assert!(!is_display("1920x1080px"));
        assert!(!is_display("-1x5"));
        assert!(check_ipsw("latest").is_ok());
        assert!(check_ipsw("https://example.com/a.ipsw").is_ok());
        assert!(check_ipsw("/Users/me/a.ipsw").is_ok());
        assert!(check_ipsw("--linux").is_err());
        assert!(check_ipsw("a.ipsw").is_err());
        assert!(check_ipsw("https://x/a b").is_err());
    }
}
