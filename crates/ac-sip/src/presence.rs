//! Presence, sans-IO: a watcher (RFC 6665 subscription to the `presence` event package of
//! RFC 3856, PIDF bodies of RFC 3863) and a publication client (RFC 3903 PUBLISH).
//!
//! [`Publisher`] is the Event Publication Agent of RFC 3903: the initial PUBLISH carries the
//! body and no SIP-If-Match; the 2xx gives the entity-tag (SIP-ETag, 4.1) and the granted
//! Expires; refreshes go at 90 % of it with SIP-If-Match and no body (4.2); a modification
//! sends the new body with SIP-If-Match (4.4); a 412 Conditional Request Failed means the
//! compositor forgot our entity-tag, so the full body is published again as an initial
//! publication (4.1, 6); 423 takes the Min-Expires; removal is SIP-If-Match with Expires 0
//! (4.5).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::msg::{HeaderName, Message, MessageBuf, Method};
use crate::pidf::{Basic, Presence};
use crate::sipe::xml::XmlError;
use crate::subscribe::{SubEvent, SubState, Subscription, SubscriptionConfig};

/// What a presence watcher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceEvent {
    /// A NOTIFY with a PIDF document (or without a body: `presence` is `None`).
    Presence {
        basic: Option<Basic>,
        note: Option<String>,
        presence: Option<Box<Presence>>,
    },
    Subscription(SubState),
    Failed {
        code: u16,
    },
    BadBody(XmlError),
}

/// A subscription to one presentity.
#[derive(Debug)]
pub struct PresenceWatcher {
    sub: Subscription,
    events: VecDeque<PresenceEvent>,
}

impl PresenceWatcher {
    /// `cfg.event` and `cfg.accept` are set to the presence package's.
    pub fn new(mut cfg: SubscriptionConfig, seed: u64) -> PresenceWatcher {
        cfg.event = "presence".into();
        cfg.accept = "application/pidf+xml".into();
        PresenceWatcher {
            sub: Subscription::new(cfg, seed),
            events: VecDeque::new(),
        }
    }

    pub fn subscription(&self) -> &Subscription {
        &self.sub
    }

    /// Digest credentials for a notifier that challenges SUBSCRIBE.
    pub fn set_credentials(&mut self, username: &str, password: &str) {
        self.sub.set_credentials(username, password);
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
        }
        ours
    }
    pub fn poll_event(&mut self) -> Option<PresenceEvent> {
        self.events.pop_front()
    }

    fn pump(&mut self) {
        while let Some(e) = self.sub.poll_event() {
            let ev = match e {
                SubEvent::Notify { body, .. } if body.iter().all(u8::is_ascii_whitespace) => {
                    PresenceEvent::Presence {
                        basic: None,
                        note: None,
                        presence: None,
                    }
                }
                SubEvent::Notify { body, .. } => match Presence::parse(&body) {
                    Ok(p) => PresenceEvent::Presence {
                        basic: p.basic(),
                        note: p.note().map(str::to_string),
                        presence: Some(Box::new(p)),
                    },
                    Err(e) => PresenceEvent::BadBody(e),
                },
                SubEvent::StateChanged(s) => PresenceEvent::Subscription(s),
                SubEvent::Failed { code } => PresenceEvent::Failed { code },
            };
            self.events.push_back(ev);
        }
    }
}

/// Where a publication is sent and how.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The presentity: Request-URI, From and To (RFC 3903 4.1).
    pub aor: String,
    pub via_host: String,
    pub via_transport: String,
    /// `presence`.
    pub event: String,
    /// `application/pidf+xml`.
    pub content_type: String,
    /// Requested lifetime in seconds.
    pub expires: u32,
    pub route: Option<String>,
    pub user_agent: String,
    /// Wait before publishing again after a failure.
    pub retry_after: Duration,
}

/// Where the publication stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubState {
    Idle,
    Publishing,
    /// The compositor holds our state under `etag` for `expires` seconds.
    Published {
        etag: String,
        expires: u32,
    },
    Removed,
    Failed {
        code: u16,
    },
}

/// What the publisher reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubEvent {
    StateChanged(PubState),
    /// A 412: the entity-tag was unknown; the body goes out again as a new publication.
    Republishing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initial,
    Refresh,
    Modify,
    Remove,
}

/// The publication client (one event state of one presentity).
#[derive(Debug)]
pub struct Publisher {
    cfg: PublishConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    etag: Option<String>,
    body: Option<Vec<u8>>,
    state: PubState,
    /// The request in flight (its CSeq and kind).
    in_flight: Option<(u32, Kind)>,
    /// A body change waiting for the request in flight.
    queued: Option<Kind>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    requests: VecDeque<Vec<u8>>,
    events: VecDeque<PubEvent>,
    auth: crate::auth::DigestClient,
    rng: u64,
}

fn next(rng: &mut u64) -> u64 {
    // splitmix64: identifiers only.
    *rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Publisher {
    pub fn new(cfg: PublishConfig, seed: u64) -> Publisher {
        let mut rng = seed;
        Publisher {
            call_id: format!("{:016x}@{}", next(&mut rng), cfg.via_host),
            from_tag: format!("{:08x}", next(&mut rng) as u32),
            cfg,
            cseq: 0,
            etag: None,
            body: None,
            state: PubState::Idle,
            in_flight: None,
            queued: None,
            refresh_at: None,
            retry_at: None,
            requests: VecDeque::new(),
            events: VecDeque::new(),
            auth: crate::auth::DigestClient::default(),
            rng,
        }
    }

    /// Digest credentials for a compositor that challenges PUBLISH (RFC 3261 22.2).
    pub fn set_credentials(&mut self, username: &str, password: &str) {
        self.auth = crate::auth::DigestClient::new(username, password);
    }

    pub fn state(&self) -> &PubState {
        &self.state
    }

    /// The entity-tag the compositor gave us last.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    fn set_state(&mut self, s: PubState) {
        if self.state != s {
            self.state = s.clone();
            self.events.push_back(PubEvent::StateChanged(s));
        }
    }

    /// Publishes `body` (initial publication, or a modification of ours, RFC 3903 4.4).
    pub fn publish(&mut self, _now: Instant, body: Vec<u8>) {
        self.body = Some(body);
        self.retry_at = None;
        let kind = if self.etag.is_some() {
            Kind::Modify
        } else {
            Kind::Initial
        };
        if matches!(
            self.state,
            PubState::Idle | PubState::Removed | PubState::Failed { .. }
        ) {
            self.set_state(PubState::Publishing);
        }
        self.send_or_queue(kind);
    }

    /// Removes our event state (RFC 3903 4.5: SIP-If-Match, Expires 0).
    pub fn remove(&mut self, _now: Instant) {
        self.refresh_at = None;
        self.retry_at = None;
        self.body = None;
        if self.etag.is_none() && self.in_flight.is_none() {
            self.set_state(PubState::Removed);
            return;
        }
        self.send_or_queue(Kind::Remove);
    }

    fn send_or_queue(&mut self, kind: Kind) {
        // RFC 3903 4.1: one PUBLISH at a time for an event state, as the 2xx of one gives
        // the entity-tag of the next.
        if self.in_flight.is_some() {
            self.queued = Some(kind);
        } else {
            self.send(kind);
        }
    }

    fn send(&mut self, kind: Kind) {
        let kind = if kind != Kind::Initial && self.etag.is_none() {
            match kind {
                Kind::Remove => {
                    self.set_state(PubState::Removed);
                    return;
                }
                _ => Kind::Initial,
            }
        } else {
            kind
        };
        self.cseq += 1;
        let mut b = MessageBuf::request(Method::Publish, &self.cfg.aor);
        b.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch=z9hG4bK{:016x};rport",
                self.cfg.via_transport,
                self.cfg.via_host,
                next(&mut self.rng)
            ),
        );
        b.push(HeaderName::MaxForwards, "70");
        if let Some(r) = &self.cfg.route {
            b.push(HeaderName::Route, r.clone());
        }
        b.push(
            HeaderName::From,
            format!("<{}>;tag={}", self.cfg.aor, self.from_tag),
        );
        b.push(HeaderName::To, format!("<{}>", self.cfg.aor));
        b.push(HeaderName::CallId, self.call_id.clone());
        b.push(HeaderName::CSeq, format!("{} PUBLISH", self.cseq));
        // RFC 3903 4.1: Event is mandatory.
        b.push(HeaderName::Event, self.cfg.event.clone());
        let expires = if kind == Kind::Remove {
            0
        } else {
            self.cfg.expires
        };
        b.push(HeaderName::Expires, expires.to_string());
        if kind != Kind::Initial {
            if let Some(e) = &self.etag {
                // RFC 3903 4.2-4.5: refresh, modify and remove name the entity-tag.
                b.push(HeaderName::SipIfMatch, e.clone());
            }
        }
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        let body: &[u8] = match (&self.body, kind) {
            (Some(body), Kind::Initial | Kind::Modify) => body,
            _ => b"",
        };
        let cnonce = format!("{:016x}", next(&mut self.rng));
        if let Some((n, v)) = self.auth.header("PUBLISH", &self.cfg.aor, body, &cnonce) {
            b.push(n, v);
        }
        match (&self.body, kind) {
            (Some(body), Kind::Initial | Kind::Modify) => {
                b.set_body(&self.cfg.content_type, body.clone());
            }
            // RFC 3903 4.2: a refresh has no body.
            _ => {
                b.push(HeaderName::ContentLength, "0");
            }
        }
        self.requests.push_back(b.to_bytes());
        self.in_flight = Some((self.cseq, kind));
    }

    /// The next PUBLISH to send as a new client transaction.
    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.requests.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<PubEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.retry_at].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            self.send_or_queue(Kind::Refresh);
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            if self.body.is_some() {
                self.send_or_queue(Kind::Initial);
            }
        }
    }

    /// The transaction of our PUBLISH ended without a final response.
    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        let Some((_, kind)) = self.in_flight.take() else {
            return;
        };
        self.failed(now, kind, code, None);
        self.run_queued();
    }

    fn failed(&mut self, now: Instant, kind: Kind, code: u16, retry: Option<u32>) {
        if kind == Kind::Remove {
            // The state expires by itself at the compositor anyway.
            self.etag = None;
            self.set_state(PubState::Removed);
            return;
        }
        self.etag = None;
        self.refresh_at = None;
        self.set_state(PubState::Failed { code });
        if self.body.is_some() {
            let secs = retry.unwrap_or(self.cfg.retry_after.as_secs() as u32);
            self.retry_at = Some(now + Duration::from_secs(secs.min(86_400) as u64));
        }
    }

    fn run_queued(&mut self) {
        if let Some(k) = self.queued.take() {
            self.send(k);
        }
    }

    /// A final response to our PUBLISH.
    pub fn handle_response(&mut self, now: Instant, data: &[u8]) {
        let Ok(m) = Message::parse(data) else { return };
        let Some(code) = m.status() else { return };
        let Some((seq, kind)) = self.in_flight else {
            return;
        };
        if code < 200
            || m.call_id().ok() != Some(self.call_id.as_str())
            || m.cseq().map(|c| c.seq).ok() != Some(seq)
        {
            return;
        }
        self.in_flight = None;
        match code {
            200..=299 => {
                if kind == Kind::Remove {
                    self.etag = None;
                    self.set_state(PubState::Removed);
                } else {
                    // RFC 3903 11.3.1: the 2xx carries the entity-tag of the new state.
                    match m.first(HeaderName::SipEtag).map(str::trim) {
                        Some(e) if !e.is_empty() => self.etag = Some(e.to_string()),
                        _ => {
                            self.failed(now, kind, 500, None);
                            self.run_queued();
                            return;
                        }
                    }
                    // RFC 3903 4.1: the 2xx's Expires is the granted lifetime.
                    let expires = m
                        .expires()
                        .ok()
                        .flatten()
                        .unwrap_or(self.cfg.expires)
                        .min(self.cfg.expires.max(1))
                        .max(1);
                    let secs = expires as u64;
                    let at = (secs * 9 / 10).min(secs.saturating_sub(5)).max(1);
                    self.refresh_at = Some(now + Duration::from_secs(at));
                    let etag = self.etag.clone().unwrap_or_default();
                    self.set_state(PubState::Published { etag, expires });
                }
            }
            412 if kind != Kind::Remove => {
                // RFC 3903 6: the entity-tag is unknown: publish the state afresh.
                self.etag = None;
                self.events.push_back(PubEvent::Republishing);
                if self.queued.take() == Some(Kind::Remove) {
                    self.set_state(PubState::Removed);
                    return;
                }
                if self.body.is_some() {
                    self.send(Kind::Initial);
                } else {
                    self.failed(now, kind, code, None);
                }
                return;
            }
            401 | 407 if self.auth.on_challenge(&m) == crate::auth::ChallengeOutcome::Retry => {
                // RFC 3261 22.2: the same request again with credentials (new CSeq).
                self.send(kind);
                return;
            }
            423 => {
                // RFC 3903 4.1 / RFC 3261 10.2.8: retry with Min-Expires.
                match m.min_expires().ok().flatten() {
                    Some(min) if min > self.cfg.expires && min <= 86_400 => {
                        self.cfg.expires = min;
                        self.send(kind);
                        return;
                    }
                    _ => self.failed(now, kind, code, None),
                }
            }
            _ => {
                let retry = m
                    .first(HeaderName::RetryAfter)
                    .and_then(|v| crate::lex::decimal::<u32>(v.split(';').next()?.trim()));
                self.failed(now, kind, code, retry);
            }
        }
        self.run_queued();
    }
}
