//! The events stream (`GET /events`): Docker's container and image events
//! plus berth's own types (`job`, and `plugin` from the plugin host).
//!
//! Publishers call [`Events::publish`]; subscribers get a broadcast receiver.
//! The last [`HISTORY`] events are kept so `since` can replay them; job
//! events (two per API request) have a ring of their own so that they never
//! push container and image events out of the replay window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_api::event::{Actor, EventMessage};
use tokio::sync::broadcast;

/// Events kept for replay.
pub const HISTORY: usize = 256;

/// Broadcast hub for [`EventMessage`]s.
#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<EventMessage>,
    history: Mutex<History>,
}

#[derive(Debug, Default)]
struct History {
    objects: VecDeque<EventMessage>,
    jobs: VecDeque<EventMessage>,
}

impl Default for Events {
    fn default() -> Events {
        Events::new()
    }
}

impl Events {
    /// An empty hub.
    pub fn new() -> Events {
        let (tx, _) = broadcast::channel(1024);
        Events {
            tx,
            history: Mutex::new(History::default()),
        }
    }

    /// Publishes an event of `kind` (`container`, `image`, `job`, ...) about
    /// `id`. Container and image events also get the deprecated `status`,
    /// `id` and `from` fields that old clients read.
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let legacy = kind == "container" || kind == "image";
        let message = EventMessage {
            kind: kind.to_owned(),
            action: action.to_owned(),
            scope: "local".to_owned(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            status: if legacy {
                action.to_owned()
            } else {
                String::new()
            },
            id: if legacy { id.to_owned() } else { String::new() },
            from: if kind == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            actor: Actor {
                id: id.to_owned(),
                attributes,
            },
        };
        self.publish_message(message);
    }

    /// Publishes a ready-made message (the plugin host's events).
    pub fn publish_message(&self, message: EventMessage) {
        if let Ok(mut history) = self.history.lock() {
            let ring = if message.kind == "job" {
                &mut history.jobs
            } else {
                &mut history.objects
            };
            if ring.len() == HISTORY {
                ring.pop_front();
            }
            ring.push_back(message.clone());
        }
        // No subscribers is fine.
        let _ = self.tx.send(message);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.tx.subscribe()
    }

    /// Kept events with `time_nano >= since_nano`, oldest first.
    pub fn since(&self, since_nano: i64) -> Vec<EventMessage> {
        let Ok(history) = self.history.lock() else {
            return Vec::new();
        };
        let mut kept: Vec<EventMessage> = history
            .objects
            .iter()
            .chain(history.jobs.iter())
            .filter(|m| m.time_nano >= since_nano)
            .cloned()
            .collect();
        // Stable: events of the same nanosecond keep their order per ring.
        kept.sort_by_key(|m| m.time_nano);
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_see_events_with_legacy_fields() {
        let events = Events::new();
        let mut rx = events.subscribe();
        let attrs = BTreeMap::from([("image".to_owned(), "busybox".to_owned())]);
        events.publish("container", "start", "abc", attrs);
        events.publish("job", "start", "container_start", BTreeMap::new());
        let first = rx.recv().await.unwrap();
        assert_eq!(
            (
                first.kind.as_str(),
                first.action.as_str(),
                first.status.as_str()
            ),
            ("container", "start", "start")
        );
        assert_eq!(first.from, "busybox");
        let second = rx.recv().await.unwrap();
        assert!(second.status.is_empty() && second.id.is_empty());
        assert_eq!(second.actor.id, "container_start");
        assert_eq!(events.since(0).len(), 2);
    }

    #[test]
    fn history_is_bounded_and_jobs_do_not_evict_objects() {
        let events = Events::new();
        events.publish("container", "create", "c", BTreeMap::new());
        for _ in 0..HISTORY + 10 {
            events.publish("job", "end", "x", BTreeMap::new());
        }
        let kept = events.since(0);
        assert_eq!(kept.len(), HISTORY + 1);
        assert_eq!(kept[0].action, "create");
    }
}
