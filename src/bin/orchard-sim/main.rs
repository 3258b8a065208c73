//! orchard-sim: a stand-in for an Orchard controller (cirruslabs/orchard) with fake
//! workers, following `shared/orchard.md`: the `/v1` REST API with Orchard's JSON, Basic
//! auth with service accounts and roles, the scheduler's placement, each VM's progression
//! as a synthetic worker reports it, and the NDJSON watch stream. It shares no code with
//! the server on purpose: the server's Orchard client is tested against an independent
//! reading of the contract. See docs/orchard.md.
//!
//! `main` parses flags, seeds workers, accounts and VMs, starts the ticker, prints
//! `orchard-sim listening on http://ADDR` (the first stdout line; tests read it) and
//! serves each request on its own thread (watch streams hold theirs).

mod auth;
mod clock;
mod control;
mod lifecycle;
mod model;
mod options;
mod query;
mod reply;
mod routes;
mod scheduler;
mod store;
mod vms;
mod workers;

use std::io::Write;
use std::sync::Arc;
use std::thread;

use options::{ALL_ROLES, Account, Options};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match Options::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", options::USAGE);
            return;
        }
        Err(e) => {
            eprintln!("orchard-sim: {e}\n\n{}", options::USAGE);
            std::process::exit(2);
        }
    };
    let store = store::Store::new(opts.phase, opts.offline_after, opts.fail_images.clone());
    {
        let mut state = store.lock();
        for i in 1..=opts.workers {
            let name = format!("worker-{i}");
            workers::add(
                &mut state,
                &name,
                opts.worker_cpu,
                opts.worker_memory,
                opts.worker_slots,
            );
        }
    }
    let mut accounts = opts.accounts.clone();
    let mut banner = Vec::new();
    if accounts.is_empty() && !opts.no_auth {
        let token =
            std::env::var("ORCHARD_BOOTSTRAP_ADMIN_TOKEN").unwrap_or_else(|_| clock::uuid());
        banner.push(format!("orchard-sim: bootstrap-admin token {token}"));
        accounts.push(Account {
            name: "bootstrap-admin".into(),
            token,
            roles: ALL_ROLES.iter().map(|r| r.to_string()).collect(),
        });
    }
    for (name, image) in &opts.vms {
        let body = serde_json::json!({"name": name, "image": image, "headless": true});
        if let Err(r) = vms::build(body.to_string().as_bytes()).map(|vm| {
            let mut state = store.lock();
            state.insert(vm);
            scheduler::run(&mut state);
        }) {
            eprintln!(
                "orchard-sim: --vm {name}: {}",
                String::from_utf8_lossy(&r.body)
            );
            std::process::exit(2);
        }
    }
    let auth = Arc::new(auth::Auth {
        accounts,
        no_auth: opts.no_auth,
    });
    let server = match tiny_http::Server::http(&opts.listen) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("orchard-sim: cannot listen on {}: {e}", opts.listen);
            std::process::exit(1);
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .expect("listening on an IP address");
    println!("orchard-sim listening on http://{addr}");
    for line in banner {
        println!("{line}");
    }
    let _ = std::io::stdout().flush();
    lifecycle::spawn_ticker(store.clone());
    if opts.exit_with_stdin {
        thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    for request in server.incoming_requests() {
        let (store, auth) = (store.clone(), auth.clone());
        let spawned = thread::Builder::new()
            .name("orchard-sim-request".into())
            .spawn(move || routes::handle(request, &store, &auth));
        if let Err(e) = spawned {
            eprintln!("orchard-sim: cannot start a request thread: {e}");
        }
    }
}
