//! The VM's screen in the browser (api-next.md §7). So far: the DES cipher of VNC
//! authentication, which the simulator's VNC server shares.

pub mod des;
