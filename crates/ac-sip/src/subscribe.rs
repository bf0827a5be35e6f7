//! Subscriber (RFC 6665), sans-IO: SUBSCRIBE, refresh, NOTIFY handling, unsubscribe. Used
//! for message-summary MWI (RFC 3842, with the voicemail server of manual 3.3.18) and the
//! dialog package (RFC 4235) for BLF.
//!
//! The owner sends what [`Subscription::poll_request`] yields as a new client transaction and
//! feeds back final responses ([`Subscription::handle_response`]) or the transaction's failure
//! ([`Subscription::handle_failure`]). NOTIFY requests go to [`Subscription::handle_request`],
//! which answers them (the response comes out of [`Subscription::poll_response`]) and reports
//! the body as a [`SubEvent::Notify`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method, TokenParams};

/// What to subscribe to.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// Our address of record (From).
    pub aor: String,
    /// The resource (Request-URI and To): the voicemail server's URI for MWI, the watched
    /// user's for BLF.
    pub target: String,
    pub contact: String,
    pub via_host: String,
    pub via_transport: String,
    /// Event package: `message-summary`, `dialog`, `presence`.
    pub event: String,
    /// Accept: `application/simple-message-summary`, `application/dialog-info+xml`, ...
    pub accept: String,
    pub expires: u32,
    pub route: Option<String>,
    pub user_agent: String,
    /// Wait before re-subscribing after a failure or a termination that allows it.
    pub retry_after: Duration,
}

/// Where the subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubState {
    Idle,
    /// SUBSCRIBE sent, no 2xx yet.
    Subscribing,
    /// RFC 6665 4.1.2.1: the notifier has not yet authorized it (`pending`).
    Pending,
    Active {
        expires: u32,
    },
    Terminated {
        reason: Option<String>,
    },
}

/// Reported to the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubEvent {
    /// A NOTIFY arrived: its body and content type.
    Notify {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    StateChanged(SubState),
    /// A SUBSCRIBE failed (final non-2xx, timeout, transport error).
    Failed {
        code: u16,
    },
}

/// RFC 6665 4.1.2.4 / Timer N: wait for the first NOTIFY after a 2xx this long (64·T1).
pub const TIMER_N: Duration = Duration::from_secs(32);

/// One subscription (one dialog).
#[derive(Debug)]
pub struct Subscription {
    cfg: SubscriptionConfig,
    call_id: String,
    from_tag: String,
    to_tag: Option<String>,
    remote_target: Option<String>,
    route_set: Vec<String>,
    cseq: u32,
    remote_cseq: Option<u32>,
    state: SubState,
    unsubscribing: bool,
    in_flight: bool,
    got_notify: bool,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    timer_n: Option<Instant>,
    requests: VecDeque<Vec<u8>>,
    responses: VecDeque<Vec<u8>>,
    events: VecDeque<SubEvent>,
    auth: crate::auth::DigestClient,
    rng: u64,
}

fn next(rng: &mut u64) -> u64 {
    // splitmix64: identifiers only, not security.
    *rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Subscription {
    pub fn new(cfg: SubscriptionConfig, seed: u64) -> Subscription {
        let mut rng = seed;
        let call_id = format!("{:016x}@{}", next(&mut rng), cfg.via_host);
        let from_tag = format!("{:08x}", next(&mut rng) as u32);
        Subscription {
            cfg,
            call_id,
            from_tag,
            to_tag: None,
            remote_target: None,
            route_set: Vec::new(),
            cseq: 0,
            remote_cseq: None,
            state: SubState::Idle,
            unsubscribing: false,
            in_flight: false,
            got_notify: false,
            refresh_at: None,
            retry_at: None,
            timer_n: None,
            requests: VecDeque::new(),
            responses: VecDeque::new(),
            events: VecDeque::new(),
            auth: crate::auth::DigestClient::default(),
            rng,
        }
    }

    /// Digest credentials for a notifier that challenges SUBSCRIBE (RFC 3261 22.2).
    pub fn set_credentials(&mut self, username: &str, password: &str) {
        self.auth = crate::auth::DigestClient::new(username, password);
    }

    pub fn state(&self) -> &SubState {
        &self.state
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    fn set_state(&mut self, s: SubState) {
        if self.state != s {
            self.state = s.clone();
            self.events.push_back(SubEvent::StateChanged(s));
        }
    }

    /// Sends the initial SUBSCRIBE.
    pub fn subscribe(&mut self, _now: Instant) {
        self.unsubscribing = false;
        self.set_state(SubState::Subscribing);
        self.send_subscribe();
    }

    /// Ends the subscription: SUBSCRIBE with Expires 0 (RFC 6665 4.1.2.3).
    pub fn unsubscribe(&mut self, _now: Instant) {
        self.refresh_at = None;
        self.retry_at = None;
        if self.to_tag.is_none() && !self.in_flight {
            self.set_state(SubState::Terminated { reason: None });
            return;
        }
        self.unsubscribing = true;
        self.send_subscribe();
    }

    /// Refreshes the subscription now, in its dialog (RFC 6665 4.1.2.2): a notifier answers
    /// a refresh with a NOTIFY of the full state (used when a partial state was missed).
    pub fn refresh(&mut self, _now: Instant) {
        if self.to_tag.is_some() && !self.in_flight && !self.unsubscribing {
            self.refresh_at = None;
            self.send_subscribe();
        }
    }

    fn send_subscribe(&mut self) {
        self.cseq += 1;
        let expires = if self.unsubscribing {
            0
        } else {
            self.cfg.expires
        };
        // RFC 3261 12.2.1.1: in the dialog, the remote target and the route set.
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| self.cfg.target.clone());
        let mut b = MessageBuf::request(Method::Subscribe, &uri);
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
        if self.route_set.is_empty() {
            if let Some(r) = &self.cfg.route {
                b.push(HeaderName::Route, r.clone());
            }
        }
        for r in &self.route_set {
            b.push(HeaderName::Route, r.clone());
        }
        b.push(
            HeaderName::From,
            format!("<{}>;tag={}", self.cfg.aor, self.from_tag),
        );
        match &self.to_tag {
            Some(t) => b.push(HeaderName::To, format!("<{}>;tag={t}", self.cfg.target)),
            None => b.push(HeaderName::To, format!("<{}>", self.cfg.target)),
        };
        b.push(HeaderName::CallId, self.call_id.clone());
        b.push(HeaderName::CSeq, format!("{} SUBSCRIBE", self.cseq));
        b.push(HeaderName::Contact, format!("<{}>", self.cfg.contact));
        b.push(HeaderName::Event, self.cfg.event.clone());
        b.push(HeaderName::Accept, self.cfg.accept.clone());
        b.push(HeaderName::Expires, expires.to_string());
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        let cnonce = format!("{:016x}", next(&mut self.rng));
        if let Some((n, v)) = self.auth.header("SUBSCRIBE", &uri, b"", &cnonce) {
            b.push(n, v);
        }
        b.push(HeaderName::ContentLength, "0");
        self.requests.push_back(b.to_bytes());
        self.in_flight = true;
    }

    /// The next SUBSCRIBE to send as a new client transaction.
    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        self.requests.pop_front()
    }

    /// The next response to a NOTIFY, for the server transaction it came in.
    pub fn poll_response(&mut self) -> Option<Vec<u8>> {
        self.responses.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SubEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.retry_at, self.timer_n]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timer_n.is_some_and(|t| t <= now) {
            // RFC 6665 4.1.2.4: no NOTIFY within Timer N after the 2xx.
            self.timer_n = None;
            if !self.got_notify {
                self.terminate(now, Some("timeout".into()), None);
                return;
            }
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            if !self.in_flight {
                self.send_subscribe();
            }
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            // A new subscription: a new dialog (a request still out in the old one is
            // forgotten; its response no longer matches the Call-ID).
            let seed = next(&mut self.rng);
            let mut fresh = Subscription::new(self.cfg.clone(), seed);
            std::mem::swap(&mut fresh.events, &mut self.events);
            fresh.auth = crate::auth::DigestClient::new(&self.auth.username, &self.auth.password);
            *self = fresh;
            self.subscribe(now);
        }
    }

    fn terminate(&mut self, now: Instant, reason: Option<String>, retry: Option<u32>) {
        self.refresh_at = None;
        self.timer_n = None;
        let unsub = self.unsubscribing;
        // RFC 6665 4.1.3: deactivated and timeout invite an immediate re-subscription;
        // probation and giveup after retry-after; rejected and noresource never.
        let again = match reason.as_deref() {
            _ if unsub => None,
            Some("deactivated") | Some("timeout") => Some(retry.unwrap_or(0)),
            Some("probation") | Some("giveup") => {
                Some(retry.unwrap_or(self.cfg.retry_after.as_secs() as u32))
            }
            Some("rejected") | Some("noresource") | Some("invariant") => None,
            _ => retry,
        };
        self.retry_at = again.map(|s| now + Duration::from_secs(s.min(86_400) as u64));
        self.set_state(SubState::Terminated { reason });
    }

    /// The transaction of our SUBSCRIBE ended without a final response.
    pub fn handle_failure(&mut self, now: Instant, code: u16) {
        self.in_flight = false;
        self.events.push_back(SubEvent::Failed { code });
        if self.unsubscribing {
            self.set_state(SubState::Terminated { reason: None });
        } else if matches!(self.state, SubState::Active { .. } | SubState::Pending) {
            // RFC 6665 4.1.2.2: a failed refresh leaves the subscription to expire.
            self.refresh_at = None;
        } else {
            self.terminate(now, None, Some(self.cfg.retry_after.as_secs() as u32));
        }
    }

    /// A final response to our SUBSCRIBE.
    pub fn handle_response(&mut self, now: Instant, data: &[u8]) {
        let Ok(m) = Message::parse(data) else { return };
        let Some(code) = m.status() else { return };
        if code < 200
            || m.call_id().ok() != Some(self.call_id.as_str())
            || m.cseq().map(|c| c.seq).ok() != Some(self.cseq)
        {
            return;
        }
        self.in_flight = false;
        match code {
            200..=299 => {
                if self.to_tag.is_none() {
                    // RFC 3261 12.1.2: the dialog from the 2xx.
                    self.to_tag = m.to().ok().and_then(|t| t.tag()).map(|t| t.into_owned());
                    self.learn_target(&m);
                    let mut rr: Vec<String> = m
                        .values(HeaderName::RecordRoute)
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    rr.reverse();
                    self.route_set = rr;
                    self.timer_n = Some(now + TIMER_N);
                }
                if self.unsubscribing {
                    // The final NOTIFY (terminated) follows; nothing more to refresh.
                    return;
                }
                let expires = m
                    .expires()
                    .ok()
                    .flatten()
                    .unwrap_or(self.cfg.expires)
                    .min(self.cfg.expires.max(1));
                if expires == 0 {
                    self.terminate(now, Some("timeout".into()), None);
                    return;
                }
                self.schedule_refresh(now, expires);
                if !matches!(self.state, SubState::Active { .. }) && !self.got_notify {
                    self.set_state(SubState::Pending);
                }
            }
            423 => {
                // RFC 6665 4.1.2.1 / RFC 3261 10.2.8: retry with Min-Expires.
                match m.min_expires().ok().flatten() {
                    Some(min) if min > self.cfg.expires && min <= 86_400 => {
                        self.cfg.expires = min;
                        self.send_subscribe();
                    }
                    _ => {
                        self.events.push_back(SubEvent::Failed { code });
                        self.terminate(now, None, None);
                    }
                }
            }
            401 | 407 if self.auth.on_challenge(&m) == crate::auth::ChallengeOutcome::Retry => {
                // RFC 3261 22.2: the same request again with credentials (new CSeq).
                self.send_subscribe();
            }
            481 if self.to_tag.is_some() => {
                // The notifier forgot the dialog: start over (RFC 6665 4.1.2.2).
                self.events.push_back(SubEvent::Failed { code });
                self.terminate(now, Some("deactivated".into()), None);
            }
            _ => {
                self.events.push_back(SubEvent::Failed { code });
                let retry = m
                    .first(HeaderName::RetryAfter)
                    .and_then(|v| TokenParams::parse(v).ok())
                    .and_then(|t| crate::lex::decimal::<u32>(t.value));
                if self.unsubscribing || self.to_tag.is_some() {
                    self.terminate(now, None, None);
                } else {
                    self.terminate(
                        now,
                        None,
                        Some(retry.unwrap_or(self.cfg.retry_after.as_secs() as u32)),
                    );
                }
            }
        }
    }

    fn schedule_refresh(&mut self, now: Instant, expires: u32) {
        // Refresh at 90 % of the granted time (at least 5 s before it runs out when possible).
        let secs = expires as u64;
        let at = (secs * 9 / 10).min(secs.saturating_sub(5)).max(1);
        self.refresh_at = Some(now + Duration::from_secs(at));
    }

    fn learn_target(&mut self, m: &Message<'_>) {
        if let Ok(cs) = m.contacts() {
            if let Some(crate::msg::Contact::Addr(a)) = cs.first() {
                self.remote_target = Some(a.uri.to_string());
            }
        }
    }

    /// Is this request a NOTIFY for this subscription (Call-ID, our tag, Event)?
    pub fn matches(&self, m: &Message<'_>) -> bool {
        m.method() == Some(Method::Notify)
            && m.call_id().ok() == Some(self.call_id.as_str())
            && m.to().ok().and_then(|t| t.tag()).as_deref() == Some(self.from_tag.as_str())
    }

    /// A NOTIFY for this subscription (check with [`matches`](Self::matches)). Answers it and
    /// reports the body. Returns `false` if it was not ours.
    pub fn handle_request(&mut self, now: Instant, data: &[u8]) -> bool {
        let Ok(m) = Message::parse(data) else {
            return false;
        };
        if !self.matches(&m) {
            return false;
        }
        let from_tag = m.from().ok().and_then(|f| f.tag()).map(|t| t.into_owned());
        if let (Some(ours), Some(theirs)) = (&self.to_tag, &from_tag) {
            if ours != theirs {
                // A NOTIFY from another fork (RFC 6665 4.1.2.4): we keep the first dialog.
                self.responses
                    .push_back(response_to(&m, 481, None).to_bytes());
                return true;
            }
        }
        // RFC 6665 8.2.1: the Event header must match ours.
        let event_ok = m
            .first(HeaderName::Event)
            .and_then(|e| TokenParams::parse(e).ok())
            .is_some_and(|e| {
                let ours = self.cfg.event.split(';').next().unwrap_or("").trim();
                e.value.eq_ignore_ascii_case(ours)
            });
        if !event_ok {
            self.responses
                .push_back(response_to(&m, 489, None).to_bytes());
            return true;
        }
        let Some(state) = m
            .first(HeaderName::SubscriptionState)
            .and_then(|s| TokenParams::parse(s).ok())
        else {
            // RFC 6665 4.1.3: Subscription-State is mandatory in NOTIFY.
            self.responses
                .push_back(response_to(&m, 400, None).to_bytes());
            return true;
        };
        let seq = m.cseq().map(|c| c.seq).unwrap_or(0);
        if self.remote_cseq.is_some_and(|r| seq <= r) {
            // RFC 3261 12.2.2: out of order.
            self.responses
                .push_back(response_to(&m, 500, None).to_bytes());
            return true;
        }
        self.remote_cseq = Some(seq);
        if self.to_tag.is_none() {
            // RFC 6665 4.1.2.4: the NOTIFY may arrive before the 2xx and creates the dialog.
            self.to_tag = from_tag;
            let mut rr: Vec<String> = m
                .values(HeaderName::RecordRoute)
                .into_iter()
                .map(str::to_string)
                .collect();
            // A UAS keeps the Record-Route order (RFC 3261 12.1.1).
            rr.truncate(32);
            self.route_set = rr;
        }
        self.learn_target(&m);
        self.got_notify = true;
        self.timer_n = None;
        self.responses
            .push_back(response_to(&m, 200, None).to_bytes());
        let content_type = m.first(HeaderName::ContentType).map(str::to_string);
        self.events.push_back(SubEvent::Notify {
            content_type,
            body: m.body.to_vec(),
        });
        let param = |n: &str| {
            state
                .param(n)
                .flatten()
                .and_then(|v| crate::lex::decimal::<u32>(&v))
        };
        match state.value.to_ascii_lowercase().as_str() {
            "active" => {
                let exp = param("expires").unwrap_or(self.cfg.expires);
                if !self.unsubscribing {
                    if exp < self.cfg.expires {
                        self.schedule_refresh(now, exp.max(1));
                    }
                    self.set_state(SubState::Active { expires: exp });
                }
            }
            "pending" => {
                if !self.unsubscribing {
                    self.set_state(SubState::Pending)
                }
            }
            _ => {
                // Only "terminated" ends it; unknown values are ignored (RFC 6665 4.1.3).
                if state.value.eq_ignore_ascii_case("terminated") {
                    let reason = state.param("reason").flatten().map(|r| r.into_owned());
                    let retry = param("retry-after");
                    self.terminate(now, reason, retry);
                }
            }
        }
        true
    }
}
