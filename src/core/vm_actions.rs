//! The `actions` of a VM row (api-next §3): what the API allows on the VM now, from the
//! row's own state, so clients need no copy of the rules. The handlers decide afresh
//! from `$TART_HOME` when a request comes; this list is what the last known state says.
//!
//! `suspend` is listed for every running macOS VM; a VM this server did not start with
//! `suspendable: true` is still refused with a 409 that says so (the row does not know
//! how its run was started). Nothing the host cannot do at all (its `Capabilities`) is
//! ever listed. Plain functions, no state.

use super::vm::Vm;
use crate::backend::host::Capabilities;

/// The actions allowed on `vm` on a host that can do `host`, in a fixed order.
pub fn actions(vm: &Vm, host: Capabilities) -> Vec<&'static str> {
    let mut list = by_state(vm);
    list.retain(|word| host.allow(word));
    list
}

/// The actions `vm`'s state allows.
fn by_state(vm: &Vm) -> Vec<&'static str> {
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

    fn actions_all(vm: &Vm) -> Vec<&'static str> {
        actions(vm, Capabilities::ALL)
    }

    #[test]
    fn each_state_allows_what_the_api_allows() {
        assert_eq!(
            actions_all(&vm("stopped", "stopped", "linux", "local")),
            ["start", "clone", "settings", "rename", "delete"]
        );
        assert_eq!(
            actions_all(&vm("running", "running", "linux", "local")),
            ["stop", "clone"]
        );
        assert_eq!(
            actions_all(&vm("running", "running", "darwin", "local")),
            ["stop", "clone", "suspend"]
        );
        assert_eq!(
            actions_all(&vm("unknown", "suspended", "darwin", "local")),
            ["start", "stop", "clone", "rename", "delete"]
        );
        assert_eq!(
            actions_all(&vm("stopped", "stopped", "darwin", "oci")),
            ["clone", "delete"]
        );
    }

    #[test]
    fn a_host_that_cannot_do_something_never_offers_it() {
        let basic = Capabilities {
            suspend: false,
            rename: false,
            settings: false,
            clone: false,
            console: false,
        };
        assert_eq!(
            actions(&vm("stopped", "stopped", "darwin", "local"), basic),
            ["start", "delete"]
        );
        assert_eq!(
            actions(&vm("running", "running", "darwin", "local"), basic),
            ["stop"]
        );
    }
}
