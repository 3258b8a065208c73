//! The backend layer: everything that knows how a VM host is driven. Today that is the
//! local `tart` CLI ([`tart`]); it sits on the CLI-agnostic process supervisor
//! (`crate::process`) and never imports the core or the web layer.

pub mod orchard;
pub mod tart;
