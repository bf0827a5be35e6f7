//! BLF (busy lamp field) watcher, sans-IO: one [`Subscription`] to the dialog event package
//! (RFC 4235) of a monitored URI, and the lamp state derived from its NOTIFY bodies.
//!
//! The lamp is [`BlfState::Idle`] (no dialog), [`BlfState::Early`] (a dialog in trying,
//! proceeding or early: the monitored user is ringing or calling, see the direction; ringing
//! wins over calling),
//! [`BlfState::Confirmed`] (in a call) or [`BlfState::Terminated`] (the last dialog just
//! ended; the next document without dialogs makes it idle). Documents follow RFC 4235 4.1.1:
//! one with a version not above the last one seen is stale and ignored; `full` replaces what
//! we know, `partial` updates the dialogs it names, and a partial document that skips a
//! version makes the watcher refresh the subscription to get full state again.

use std::time::Instant;

use crate::dialog_info::{Dialog, DialogDirection, DialogInfo, DialogState, InfoState};
use crate::sipe::xml::XmlError;
use crate::subscribe::{SubEvent, SubState, Subscription, SubscriptionConfig};

/// The lamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlfState {
    Idle,
    Early,
    Confirmed,
    Terminated,
}

impl BlfState {
    pub fn as_str(self) -> &'static str {
        match self {
            BlfState::Idle => "idle",
            BlfState::Early => "early",
            BlfState::Confirmed => "confirmed",
            BlfState::Terminated => "terminated",
        }
    }
}

/// What the watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlfEvent {
    /// The lamp changed.
    State {
        state: BlfState,
        /// The direction of the dialog that decides the state.
        direction: Option<DialogDirection>,
        /// That dialog's remote identity, when the document gives it.
        peer: Option<String>,
    },
    /// The subscription changed state (pending, active, terminated).
    Subscription(SubState),
    /// A SUBSCRIBE failed.
    Failed { code: u16 },
    /// A NOTIFY body that is not a valid dialog-info document (it was still answered 200:
    /// the subscription is fine, the body is not).
    BadBody(XmlError),
}

/// One monitored URI.
#[derive(Debug)]
pub struct BlfWatcher {
    sub: Subscription,
    call_id: String,
    version: Option<u64>,
    dialogs: Vec<Dialog>,
    lamp: Option<(BlfState, Option<DialogDirection>)>,
    need_refresh: bool,
    events: std::collections::VecDeque<BlfEvent>,
}

impl BlfWatcher {
    /// `cfg.event` and `cfg.accept` are set to the dialog package's.
    pub fn new(mut cfg: SubscriptionConfig, seed: u64) -> BlfWatcher {
        cfg.event = "dialog".into();
        cfg.accept = "application/dialog-info+xml".into();
        let sub = Subscription::new(cfg, seed);
        BlfWatcher {
            call_id: sub.call_id().to_string(),
            sub,
            version: None,
            dialogs: Vec::new(),
            lamp: None,
            need_refresh: false,
            events: Default::default(),
        }
    }

    pub fn subscription(&self) -> &Subscription {
        &self.sub
    }

    /// Digest credentials for a notifier that challenges SUBSCRIBE.
    pub fn set_credentials(&mut self, username: &str, password: &str) {
        self.sub.set_credentials(username, password);
    }

    /// The lamp now (`None` before the first NOTIFY).
    pub fn state(&self) -> Option<(BlfState, Option<DialogDirection>)> {
        self.lamp
    }

    pub fn subscribe(&mut self, now: Instant) {
        self.sub.subscribe(now);
    }

    pub fn unsubscribe(&mut self, now: Instant) {
        self.sub.unsubscribe(now);
    }

    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.sub.poll_request()
    }

    pub fn poll_response(&mut self) -> Option<Vec<u8>> {
        self.sub.poll_response()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sub.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.sub.handle_timeout(now);
        self.pump();
    }

    pub fn handle_response(&mut self, now: Instant, data: &[u8]) {
        self.sub.handle_response(now, data);
        self.pump();
    }

    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        self.sub.handle_failure(now, code);
        self.pump();
    }

    /// A NOTIFY; `false` if it is not for this watcher.
    pub fn handle_request(&mut self, now: Instant, data: &[u8]) -> bool {
        let ours = self.sub.handle_request(now, data);
        if ours {
            self.pump();
            if self.need_refresh {
                self.need_refresh = false;
                self.sub.refresh(now);
            }
        }
        ours
    }

    pub fn poll_event(&mut self) -> Option<BlfEvent> {
        self.events.pop_front()
    }

    fn pump(&mut self) {
        if self.sub.call_id() != self.call_id {
            // A new subscription (re-subscribed in a new dialog): versions start over.
            self.call_id = self.sub.call_id().to_string();
            self.version = None;
        }
        while let Some(e) = self.sub.poll_event() {
            match e {
                SubEvent::Notify { body, .. } => self.on_body(&body),
                SubEvent::StateChanged(s) => self.events.push_back(BlfEvent::Subscription(s)),
                SubEvent::Failed { code } => self.events.push_back(BlfEvent::Failed { code }),
            }
        }
    }

    fn on_body(&mut self, body: &[u8]) {
        if body.iter().all(u8::is_ascii_whitespace) {
            // A NOTIFY without a body: no dialog state known (RFC 6665 4.2.2 allows it).
            if self.lamp.is_none() {
                self.set_lamp(BlfState::Idle, None, None);
            }
            return;
        }
        let doc = match DialogInfo::parse(body) {
            Ok(d) => d,
            Err(e) => {
                self.events.push_back(BlfEvent::BadBody(e));
                return;
            }
        };
        // RFC 4235 4.1.1: versions increase by one per NOTIFY; an old one is discarded.
        if self.version.is_some_and(|v| doc.version <= v) {
            return;
        }
        match doc.state {
            InfoState::Full => self.dialogs = doc.dialogs.clone(),
            InfoState::Partial => {
                if self.version.is_some_and(|v| doc.version != v + 1) || self.version.is_none() {
                    // A gap (or a partial document first): refresh to get full state.
                    self.need_refresh = true;
                }
                for d in &doc.dialogs {
                    match self.dialogs.iter_mut().find(|x| x.id == d.id) {
                        Some(x) => *x = d.clone(),
                        None => self.dialogs.push(d.clone()),
                    }
                }
            }
        }
        self.version = Some(doc.version);
        // The lamp shows the most telling dialog: in a call, else ringing here (an early
        // dialog we could pick up), else calling out, else just ended.
        let rank = |d: &Dialog| match (d.state, d.direction) {
            (DialogState::Confirmed, _) => 4,
            (DialogState::Terminated, _) => 1,
            (_, Some(DialogDirection::Recipient)) => 3,
            _ => 2,
        };
        let top = self
            .dialogs
            .iter()
            .rev()
            .max_by_key(|d| rank(d))
            .map(|d| (d.state, d.direction, peer(d)));
        let (state, dir, who) = match top {
            None => (BlfState::Idle, None, None),
            Some((DialogState::Confirmed, d, p)) => (BlfState::Confirmed, d, p),
            Some((DialogState::Terminated, d, p)) => (BlfState::Terminated, d, p),
            Some((_, d, p)) => (BlfState::Early, d, p),
        };
        // Ended dialogs are reported once, then forgotten.
        self.dialogs.retain(|d| d.state != DialogState::Terminated);
        self.set_lamp(state, dir, who);
    }

    fn set_lamp(&mut self, s: BlfState, d: Option<DialogDirection>, peer: Option<String>) {
        if self.lamp != Some((s, d)) {
            self.lamp = Some((s, d));
            self.events.push_back(BlfEvent::State {
                state: s,
                direction: d,
                peer,
            });
        }
    }
}

fn peer(d: &Dialog) -> Option<String> {
    d.remote
        .as_ref()
        .and_then(|r| r.identity.as_ref())
        .map(|i| i.uri.clone())
}
