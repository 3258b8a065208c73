//! The `actions` of a VM row (api-next §3): what the API allows on the VM now, from the
//! row's own state, so clients need no copy of the rules. The handlers decide afresh
//! from `$TART_HOME` when a request comes; this list is what the last known state says.
//!
//! `suspend` is listed for every running macOS VM; a VM this server did not start with
//! `suspendable: true` is still refused with a 409 that says so (the row does not know
//! how its run was started). Plain functions, no state.

use super::vm::Vm;

/// The actions allowed on `vm`, in a fixed order.
pub fn actions(vm: &Vm) -> Vec<&'static str> {
    if vm.source.as_deref() == Some("oci") {
        return vec!["clone", "delete"];
    }
    let suspended = vm.state.as_deref() == Some("suspended");
    match vm.status {
        "running" => {
            let mut list = vec!["stop", "clone"];
            if vm.os.as_deref() == Some("darwin") {
                list.push("suspend");
            }
            list
        }
        "stopped" => vec!["start", "clone", "settings", "rename", "delete"],
        _ if suspended => vec!["start", "stop", "clone", "rename", "delete"],
        _ => vec!["start", "stop", "clone", "delete"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(status: &'static str, state: &str, os: &str, source: &str) -> Vm {
        Vm {
            name: "vm".into(),
            backend: "tart",
            status,
            state: Some(state.into()),
            ip_address: None,
            source: Some(source.into()),
            os: Some(os.into()),
            cpu: None,
            memory: None,
            disk_size: None,
            display: None,
            disk_format: None,
            size_on_disk_gb: None,
            accessed: None,
        }
    }

    #[test]
    fn each_state_allows_what_the_api_allows() {
        assert_eq!(
            actions(&vm("stopped", "stopped", "linux", "local")),
            ["start", "clone", "settings", "rename", "delete"]
        );
        assert_eq!(
            actions(&vm("running", "running", "linux", "local")),
            ["stop", "clone"]
        );
        assert_eq!(
            actions(&vm("running", "running", "darwin", "local")),
            ["stop", "clone", "suspend"]
        );
        assert_eq!(
            actions(&vm("unknown", "suspended", "darwin", "local")),
            ["start", "stop", "clone", "rename", "delete"]
        );
        assert_eq!(
            actions(&vm("stopped", "stopped", "darwin", "oci")),
            ["clone", "delete"]
        );
    }
}
