//! taartenfabriek: a local web app and JSON/WebSocket API that manages Tart VMs.
