//! Who is here: the participants of the connected clients, for the hub.
//!
//! A participant is one person (the owner, one invite, or everyone on the
//! anonymous viewer link together) with any number of devices (WebSockets). The
//! first device makes them join, the last one leaving makes them leave: only those
//! two moments are broadcast (`participant_joined`, `participant_left`); a new
//! client gets the whole list as a `presence` snapshot. Pure: the hub owns it.

use crate::auth::Role;
use crate::protocol::Participant;
use std::collections::BTreeMap;

/// One participant's key: `o` (owner), `v` (the viewer link), `i-<invite id>`.
pub type Key = String;

struct Entry {
    name: String,
    role: Role,
    devices: usize,
    /// Unix milliseconds of the first device's arrival.
    since: u64,
}

#[derive(Default)]
pub struct Presence {
    here: BTreeMap<Key, Entry>,
}

/// What a join or leave changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// The participant's first device: broadcast `participant_joined`.
    Joined,
    /// Their last device left: broadcast `participant_left`.
    Left,
    /// Another device of someone already here (or not the last to go).
    Devices,
}

impl Presence {
    pub fn join(&mut self, key: &str, name: &str, role: Role, now_ms: u64) -> Change {
        let entry = self.here.entry(key.to_string()).or_insert(Entry {
            name: name.to_string(),
            role,
            devices: 0,
            since: now_ms,
        });
        entry.devices += 1;
        if entry.devices == 1 {
            Change::Joined
        } else {
            Change::Devices
        }
    }

    pub fn leave(&mut self, key: &str) -> Change {
        let Some(entry) = self.here.get_mut(key) else {
            return Change::Devices;
        };
        entry.devices = entry.devices.saturating_sub(1);
        if entry.devices == 0 {
            self.here.remove(key);
            Change::Left
        } else {
            Change::Devices
        }
    }

    /// Everyone here, the owner first, then by arrival.
    pub fn snapshot(&self) -> Vec<Participant> {
        let mut list: Vec<Participant> = self
            .here
            .values()
            .map(|e| Participant {
                name: e.name.clone(),
                role: e.role.name(),
                devices: e.devices,
                since: e.since,
            })
            .collect();
        list.sort_by_key(|p| (p.role != "owner", p.since));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_first_and_last_devices_count() {
        let mut p = Presence::default();
        assert_eq!(p.join("o", "owner", Role::Owner, 5), Change::Joined);
        assert_eq!(p.join("i-1", "Ann", Role::Collaborator, 1), Change::Joined);
        assert_eq!(p.join("i-1", "Ann", Role::Collaborator, 9), Change::Devices);
        let s = p.snapshot();
        assert_eq!(s[0].name, "owner");
        assert_eq!(
            (s[1].name.as_str(), s[1].devices, s[1].since),
            ("Ann", 2, 1)
        );
        assert_eq!(p.leave("i-1"), Change::Devices);
        assert_eq!(p.leave("i-1"), Change::Left);
        assert_eq!(p.leave("i-1"), Change::Devices);
        assert_eq!(p.snapshot().len(), 1);
    }
}
