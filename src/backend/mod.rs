//! The backend layer: everything that knows how a VM host is driven. [`host`] is the
//! seam the core programs against (the [`host::Backend`] trait and the requests,
//! results and progress reports that cross it); [`tart`] is the local `tart` CLI behind
//! it; [`orchard`] is an Orchard cluster's REST API. Everything here sits on the
//! CLI-agnostic process supervisor (`crate::process`) and never imports the core or the
//! web layer.

pub mod host;
pub mod orchard;
pub mod tart;
