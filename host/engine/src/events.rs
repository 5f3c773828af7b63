//! The events stream (`GET /events`): Docker's container and image events
//! plus berth's own types (`job`, and `plugin` from the plugin host).
//!
//! Publishers call [`Events::publish`]; subscribers get a broadcast receiver,
//! with the kept events before it when they ask ([`Events::subscribe_since`]).
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
        let mut history = self.history();
        let ring = if message.kind == "job" {
            &mut history.jobs
        } else {
            &mut history.objects
        };
        if ring.len() == HISTORY {
            ring.pop_front();
        }
        ring.push_back(message.clone());
        // Sent under the history lock, so that `subscribe_since` sees every
        // event either in the history or on its receiver, never in both.
        // No subscribers is fine.
        let _ = self.tx.send(message);
    }

    /// A receiver of every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventMessage> {
        self.tx.subscribe()
    }

    /// The kept events with `time_nano >= since_nano`, oldest first, and a
    /// receiver of every event published after them: none is in both and
    /// none falls between (`since` replays then follows).
    pub fn subscribe_since(
        &self,
        since_nano: i64,
    ) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let history = self.history();
        let mut kept: Vec<EventMessage> = history
            .objects
            .iter()
            .chain(history.jobs.iter())
            .filter(|m| m.time_nano >= since_nano)
            .cloned()
            .collect();
        // Stable: events of the same nanosecond keep their order per ring.
        kept.sort_by_key(|m| m.time_nano);
        (kept, self.tx.subscribe())
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        // Every update is a push and a pop: a panic cannot leave a torn
        // ring, so a poisoned lock is still usable.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
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
        assert_eq!(events.subscribe_since(0).0.len(), 2);
    }

    #[test]
    fn subscribing_since_splits_events_between_history_and_receiver() {
        let events = Events::new();
        events.publish("container", "create", "a", BTreeMap::new());
        let (past, mut rx) = events.subscribe_since(0);
        events.publish("container", "start", "a", BTreeMap::new());
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].action, "create");
        assert_eq!(rx.try_recv().unwrap().action, "start");
        assert!(rx.try_recv().is_err(), "nothing twice");
    }

    #[test]
    fn subscribing_while_events_are_published_misses_none_and_repeats_none() {
        const COUNT: usize = 600;
        let events = std::sync::Arc::new(Events::new());
        let publisher = {
            let events = std::sync::Arc::clone(&events);
            std::thread::spawn(move || {
                for i in 0..COUNT {
                    events.publish("container", "start", &i.to_string(), BTreeMap::new());
                }
            })
        };
        // Subscribe somewhere in the middle of the publishing.
        while events.subscribe_since(0).0.len() < 100 {
            std::thread::yield_now();
        }
        let (past, mut rx) = events.subscribe_since(0);
        publisher.join().unwrap();
        let id = |m: &EventMessage| m.actor.id.parse::<usize>().unwrap();
        let mut live = Vec::new();
        while let Ok(m) = rx.try_recv() {
            live.push(id(&m));
        }
        let past: Vec<usize> = past.iter().map(id).collect();
        // The history holds a contiguous run up to some event, the receiver
        // everything after it: nothing twice, nothing lost in between.
        let next = past.last().map_or(0, |last| last + 1);
        assert!(past.windows(2).all(|w| w[1] == w[0] + 1), "{past:?}");
        assert_eq!(live, (next..COUNT).collect::<Vec<_>>());
    }

    #[test]
    fn history_is_bounded_and_jobs_do_not_evict_objects() {
        let events = Events::new();
        events.publish("container", "create", "c", BTreeMap::new());
        for _ in 0..HISTORY + 10 {
            events.publish("job", "end", "x", BTreeMap::new());
        }
        let kept = events.subscribe_since(0).0;
        assert_eq!(kept.len(), HISTORY + 1);
        assert_eq!(kept[0].action, "create");
    }
}
