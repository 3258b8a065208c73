//! Console tickets: what `POST /api/vms/{name}/console` hands out and the console
//! listener takes back. A ticket is 32 random bytes (base64url), opens one VM's screen
//! once, and only within [`TICKET_LIFETIME`]: the WebSocket URL carries it, so it must
//! be useless once used or old.
//!
//! Threading: one mutex around the map, held only for map operations.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rfb::VncTarget;
use crate::util::sync::lock;

/// How long a ticket stays valid (30 s, api-next.md §7): enough for the page to open
/// the WebSocket right after asking, short enough that a leaked URL soon dies.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(30);

/// Unused, unexpired tickets at once (64); the next request gets 429. Each is a few
/// hundred bytes; the bound keeps a looping client from growing the map.
pub const MAX_LIVE_TICKETS: usize = 64;

/// What a ticket opens.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub vm: String,
    pub target: VncTarget,
    expires: Instant,
}

/// Why a ticket was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Never issued, or already used.
    Unknown,
    /// Issued but older than [`TICKET_LIFETIME`].
    Expired,
    /// [`MAX_LIVE_TICKETS`] are waiting to be used.
    Full,
}

/// The live tickets.
#[derive(Default)]
pub struct TicketStore {
    live: Mutex<HashMap<String, Ticket>>,
}

impl TicketStore {
    /// Issues a ticket for `vm`'s screen at `target`.
    pub fn issue(&self, vm: &str, target: VncTarget) -> Result<String, Refused> {
        let id = crate::util::random::base64url(&crate::util::random::bytes::<32>());
        let now = Instant::now();
        let mut live = lock(&self.live);
        live.retain(|_, t| t.expires > now);
        if live.len() >= MAX_LIVE_TICKETS {
            return Err(Refused::Full);
        }
        live.insert(
            id.clone(),
            Ticket {
                vm: vm.to_string(),
                target,
                expires: now + TICKET_LIFETIME,
            },
        );
        Ok(id)
    }

    /// Takes `id` out of the store: a ticket is good for one attempt, whatever its fate.
    pub fn redeem(&self, id: &str) -> Result<Ticket, Refused> {
        let ticket = lock(&self.live).remove(id).ok_or(Refused::Unknown)?;
        if Instant::now() >= ticket.expires {
            return Err(Refused::Expired);
        }
        Ok(ticket)
    }

    /// Makes every live ticket expire now (tests of expiry, without waiting 30 s).
    #[cfg(test)]
    fn age_all(&self) {
        let now = Instant::now();
        for t in lock(&self.live).values_mut() {
            t.expires = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> VncTarget {
        VncTarget::from_url("vnc://:pw@127.0.0.1:5900").unwrap()
    }

    #[test]
    fn a_ticket_opens_once() {
        let store = TicketStore::default();
        let id = store.issue("vm", target()).unwrap();
        assert_eq!(id.len(), 43);
        assert_eq!(store.redeem(&id).unwrap().vm, "vm");
        assert_eq!(store.redeem(&id).unwrap_err(), Refused::Unknown);
        assert_eq!(store.redeem("made-up").unwrap_err(), Refused::Unknown);
    }

    #[test]
    fn an_old_ticket_is_refused_and_gone() {
        let store = TicketStore::default();
        let id = store.issue("vm", target()).unwrap();
        store.age_all();
        assert_eq!(store.redeem(&id).unwrap_err(), Refused::Expired);
        assert_eq!(store.redeem(&id).unwrap_err(), Refused::Unknown);
    }

    #[test]
    fn live_tickets_are_bounded_and_expired_ones_make_room() {
        let store = TicketStore::default();
        for _ in 0..MAX_LIVE_TICKETS {
            store.issue("vm", target()).unwrap();
        }
        assert_eq!(store.issue("vm", target()).unwrap_err(), Refused::Full);
        store.age_all();
        assert!(store.issue("vm", target()).is_ok());
    }
}
