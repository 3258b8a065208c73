//! The argv of `tart run`: how a VM is started, by display mode and start options
//! (api-next.md §3, `tart-cli.md` §2.4, `tart-real-mac.md` risks 1 and c7).
//!
//! Display modes, because they decide whether a VM lives:
//! * `ScreenSharing` is `--vnc`: tart waits 60 s for the guest's DHCP lease and then ends
//!   the VM (`IPNotFound()`); the URL is `vnc://<ip>`, useful only with the guest's own
//!   VNC server (Cirrus Labs' macOS images). The seed's mode, kept for macOS guests.
//! * `Vnc` is `--vnc-experimental`: Virtualization.framework's VNC server on 127.0.0.1
//!   with a password, printed right after the VM started; no lease needed. The default
//!   for Linux guests (installers, static addresses, no VNC server of their own).
//! * `None`: no display at all; the start is proven by `tart run` holding the VM.
//!
//! Every option comes before `--`, the name after it. Pure: no I/O, no threads.

/// How the VM's screen is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    ScreenSharing,
    Vnc,
    None,
}

impl Display {
    /// The API word (`"screen-sharing"`, `"vnc"`, `"none"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Display::ScreenSharing => "screen-sharing",
            Display::Vnc => "vnc",
            Display::None => "none",
        }
    }

    /// Parses the API word.
    pub fn parse(word: &str) -> Option<Display> {
        [Display::ScreenSharing, Display::Vnc, Display::None]
            .into_iter()
            .find(|d| d.as_str() == word)
    }

    /// The mode a guest of `os` gets when the start body does not choose: `--vnc` would
    /// kill a Linux guest without a lease, so Linux gets tart's own VNC server; macOS
    /// (and a VM whose OS is unknown) keeps the seed's Screen Sharing.
    pub fn default_for(os: Option<&str>) -> Display {
        if os == Some("linux") {
            Display::Vnc
        } else {
            Display::ScreenSharing
        }
    }
}

/// The guest's network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// vmnet's shared NAT network (tart's default).
    #[default]
    Nat,
    /// `--net-bridged <interface>`.
    Bridged(String),
    /// `--net-softnet`.
    Softnet,
}

/// One `--dir` share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDir {
    pub name: String,
    pub path: String,
    pub read_only: bool,
}

/// What a start may ask for besides the name (the start body).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartOptions {
    /// `None` means "the default for the guest's OS" ([`Display::default_for`]).
    pub display: Option<Display>,
    pub suspendable: bool,
    pub recovery: bool,
    pub dirs: Vec<SharedDir>,
    pub network: Network,
}

/// `tart run --no-graphics [--vnc|--vnc-experimental] [options…] -- <name>`.
pub fn run_args(name: &str, display: Display, options: &StartOptions) -> Vec<String> {
    let mut args = vec!["run".to_string()];
    match display {
        // The seed's exact argv, kept so its order stays recognisable in logs.
        Display::ScreenSharing => args.extend(["--vnc".into(), "--no-graphics".into()]),
        Display::Vnc => args.extend(["--no-graphics".into(), "--vnc-experimental".into()]),
        Display::None => args.push("--no-graphics".into()),
    }
    if options.suspendable {
        args.push("--suspendable".into());
    }
    if options.recovery {
        args.push("--recovery".into());
    }
    for dir in &options.dirs {
        let ro = if dir.read_only { ":ro" } else { "" };
        args.push("--dir".into());
        args.push(format!("{}:{}{ro}", dir.name, dir.path));
    }
    match &options.network {
        Network::Nat => {}
        Network::Bridged(interface) => {
            args.push("--net-bridged".into());
            args.push(interface.clone());
        }
        Network::Softnet => args.push("--net-softnet".into()),
    }
    args.push("--".into());
    args.push(name.to_string());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_argv_is_kept_for_screen_sharing() {
        let args = run_args("vm", Display::ScreenSharing, &StartOptions::default());
        assert_eq!(args, ["run", "--vnc", "--no-graphics", "--", "vm"]);
    }

    #[test]
    fn every_option_comes_before_the_terminator() {
        let options = StartOptions {
            display: Some(Display::Vnc),
            suspendable: true,
            recovery: true,
            dirs: vec![SharedDir {
                name: "src".into(),
                path: "/Users/me/src".into(),
                read_only: true,
            }],
            network: Network::Bridged("en0".into()),
        };
        let args = run_args("-odd name", Display::Vnc, &options);
        assert_eq!(
            args,
            [
                "run",
                "--no-graphics",
                "--vnc-experimental",
                "--suspendable",
                "--recovery",
                "--dir",
                "src:/Users/me/src:ro",
                "--net-bridged",
                "en0",
                "--",
                "-odd name"
            ]
        );
    }

    #[test]
    fn linux_guests_default_to_tarts_own_vnc_server() {
        assert_eq!(Display::default_for(Some("linux")), Display::Vnc);
        assert_eq!(Display::default_for(Some("darwin")), Display::ScreenSharing);
        assert_eq!(Display::default_for(None), Display::ScreenSharing);
        assert_eq!(Display::parse("none"), Some(Display::None));
        assert_eq!(Display::parse("VNC"), None);
    }
}
