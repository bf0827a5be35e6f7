//! What a signed-in Skype for Business phone does next, sans-IO: in-band provisioning
//! ([MS-SIPREGE] SUBSCRIBE to `vnd-microsoft-provisioning-v2`), the dial plan (SERVICE to
//! the location profile, [MS-SIPRE] 2.2.8) and presence publication ([MS-PRES], SERVICE
//! with a `publish` document) with the manual's 4.4 Available -> Inactive -> Away timers.
//!
//! The roaming self subscription ([MS-PRES] 3.3.5.1, `vnd-microsoft-roaming-self`) brings
//! the voicemail counts of online users (manual 3.3.20): from the 200's piggybacked
//! `roamingData` and from later NOTIFY/BENOTIFY requests in its dialog
//! ([`SipeServices::handle_request`]).
//!
//! Every request is signed with the registration's [`ClientSa`] and every response must
//! carry a verifying server signature ([MS-SIPAE] 3.2.5.2) before its body is used.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::msg::{HeaderName, Message, MessageBuf, Method};
use crate::sipe::presence::{self, Availability};
use crate::sipe::provisioning::{self, InbandSettings, LocationProfile, ProvisionGroupList};
use crate::sipe::roaming::{self, RoamingData, VoicemailCounts};
use crate::sipe::sipae::ClientSa;

/// Content-Type of our location profile SERVICE request body (the request body's form is
/// our choice: [MS-SIPRE] 2.2.8 specifies the answer's `LocationProfileDescription`).
pub const LOCATION_PROFILE_REQUEST_TYPE: &str = "application/ms-location-profile-definition+xml";

/// Manual 4.4: seconds from Available to Inactive, and from Inactive to Away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceTimers {
    pub inactive_after: Duration,
    pub away_after: Duration,
}

impl PresenceTimers {
    /// The defaults of `lync/presence/state_change_timeout` and
    /// `lync/presence/state_inactive_timeout` from [`ac_cfg::schema`].
    pub fn from_schema() -> PresenceTimers {
        let secs = |key: &str| -> u64 {
            match ac_cfg::schema::Schema::get().lookup(key, None) {
                ac_cfg::schema::Lookup::Found(d, i) => {
                    d.default_for(None, i.as_slice()).parse().unwrap_or(300)
                }
                _ => 300,
            }
        };
        PresenceTimers {
            inactive_after: Duration::from_secs(secs("lync/presence/state_change_timeout")),
            away_after: Duration::from_secs(secs("lync/presence/state_inactive_timeout")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServicesConfig {
    pub aor: String,
    pub contact: String,
    pub via_host: String,
    pub via_transport: String,
    pub epid: String,
    pub user_agent: String,
    pub timers: PresenceTimers,
    /// The `state` category instance id and containers we publish machine state to.
    pub state_instance: u32,
    pub state_containers: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ServicesEvent {
    Provisioned(InbandSettings),
    DialPlan(LocationProfile),
    Published(Availability),
    /// Voicemail counts from the roaming self subscription (manual 3.3.20).
    Voicemail(VoicemailCounts),
    Failed {
        what: &'static str,
        code: u16,
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Provisioning,
    LocationProfile,
    Publish(Availability),
    RoamingSelf,
    /// A refresh of the self subscription inside its dialog (RFC 6665 4.1.2.1).
    RoamingSelfRefresh,
}

/// The self subscription's dialog, for refreshes.
#[derive(Debug, Clone)]
struct SelfDialog {
    call_id: String,
    tag: String,
    remote_tag: String,
    /// Where in-dialog requests go (the 200's Contact, else the AOR).
    target: String,
    cseq: u32,
    /// When to refresh.
    refresh_at: Instant,
}

#[derive(Debug)]
pub struct SipeServices {
    cfg: ServicesConfig,
    rand: u64,
    outgoing: Vec<Vec<u8>>,
    pending: HashMap<String, Kind>,
    events: Vec<ServicesEvent>,
    settings: Option<InbandSettings>,
    dial_plan: Option<LocationProfile>,
    /// Presence: the last user activity, what is published, and what was asked for.
    last_activity: Option<Instant>,
    published: Option<Availability>,
    in_flight: bool,
    version: u32,
    in_call: bool,
    dnd: bool,
    /// The self subscription's Call-ID and our From tag, once sent.
    self_sub: Option<(String, String)>,
    /// The latest roaming self categories and the voicemail counts they carry.
    roaming: Option<RoamingData>,
    voicemail: Option<VoicemailCounts>,
    /// The self subscription's dialog once the 200 came, and when to refresh it.
    self_dialog: Option<SelfDialog>,
}

impl SipeServices {
    pub fn new(cfg: ServicesConfig, seed: u64) -> SipeServices {
        SipeServices {
            cfg,
            rand: seed,
            outgoing: Vec::new(),
            pending: HashMap::new(),
            events: Vec::new(),
            settings: None,
            dial_plan: None,
            last_activity: None,
            published: None,
            in_flight: false,
            version: 0,
            in_call: false,
            dnd: false,
            self_sub: None,
            roaming: None,
            voicemail: None,
            self_dialog: None,
        }
    }

    fn next(&mut self) -> u64 {
        self.rand = self.rand.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rand;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn settings(&self) -> Option<&InbandSettings> {
        self.settings.as_ref()
    }

    pub fn dial_plan(&self) -> Option<&LocationProfile> {
        self.dial_plan.as_ref()
    }

    /// What presence state is published now.
    pub fn published(&self) -> Option<Availability> {
        self.published
    }

    /// The voicemail counts the roaming self subscription last brought (manual 3.3.20).
    pub fn voicemail(&self) -> Option<VoicemailCounts> {
        self.voicemail
    }

    /// The latest roaming self categories.
    pub fn roaming_self(&self) -> Option<&RoamingData> {
        self.roaming.as_ref()
    }

    /// The request URI for dialed digits: through the dial plan once it is known.
    pub fn dial_uri(&self, dialed: &str) -> String {
        let domain = self.cfg.aor.split_once('@').map(|(_, d)| d).unwrap_or("");
        match &self.dial_plan {
            Some(p) => p.dial_uri(dialed, domain),
            None => format!("sip:{dialed}@{domain};user=phone"),
        }
    }

    /// Right after sign-in: ask for in-band provisioning and publish Available.
    pub fn start(&mut self, now: Instant, sa: &mut ClientSa) {
        // [MS-SIPREGE] 2.2.2.1: To and From are the user's AOR, Event and Accept /
        // Content-Type name the provisioning package.
        let body = provisioning::request_body(provisioning::REQUESTED_GROUPS);
        let aor = self.cfg.aor.clone();
        self.send(
            Method::Subscribe,
            &aor,
            &[
                (HeaderName::Event, provisioning::EVENT),
                (HeaderName::Accept, provisioning::CONTENT_TYPE),
                (
                    HeaderName::Supported,
                    "ms-benotify, ms-piggyback-first-notify",
                ),
                (HeaderName::Expires, "0"),
            ],
            Some((provisioning::CONTENT_TYPE, body.into_bytes())),
            Kind::Provisioning,
            sa,
        );
        self.last_activity = Some(now);
        self.publish(Availability::Available, sa);
        self.subscribe_roaming_self(sa);
    }

    /// The self SUBSCRIBE of [MS-PRES] 4.4.1: Event and Accept name the roaming self
    /// package, ms-benotify supported and proxy-required, piggybacked first NOTIFY
    /// supported, a `roamingList` of all four roaming types (3.3.5.1).
    pub fn subscribe_roaming_self(&mut self, sa: &mut ClientSa) {
        self.self_dialog = None;
        self.send_self_subscribe(sa, None);
    }

    /// The self SUBSCRIBE, new or (with `dialog`) a refresh inside the subscription's
    /// dialog with the next CSeq (RFC 6665 4.1.2.1: a subscriber refreshes before the
    /// granted duration runs out by sending SUBSCRIBE in the same dialog).
    fn send_self_subscribe(&mut self, sa: &mut ClientSa, dialog: Option<&SelfDialog>) {
        let target = dialog
            .map(|d| d.target.clone())
            .unwrap_or_else(|| self.cfg.aor.clone());
        let body = roaming::request_body(roaming::ALL_TYPES);
        let kind = if dialog.is_some() {
            Kind::RoamingSelfRefresh
        } else {
            Kind::RoamingSelf
        };
        let d = dialog.map(|d| {
            (
                d.call_id.clone(),
                d.tag.clone(),
                d.remote_tag.clone(),
                d.cseq,
            )
        });
        self.send_in(
            Method::Subscribe,
            &target,
            &[
                (HeaderName::Event, roaming::EVENT),
                (HeaderName::Accept, roaming::CONTENT_TYPE),
                (HeaderName::Supported, "ms-benotify"),
                (HeaderName::ProxyRequire, "ms-benotify"),
                (HeaderName::Supported, "ms-piggyback-first-notify"),
            ],
            Some((roaming::CONTENT_TYPE, body.into_bytes())),
            kind,
            sa,
            d,
        );
    }

    fn apply_roaming(&mut self, body: &[u8]) {
        match RoamingData::parse(body) {
            Ok(d) => {
                if let Some(v) = d.voicemail() {
                    if self.voicemail != Some(v) {
                        self.voicemail = Some(v);
                        self.events.push(ServicesEvent::Voicemail(v));
                    }
                }
                self.roaming = Some(d);
            }
            Err(e) => self.events.push(ServicesEvent::Failed {
                what: "roaming self",
                code: 0,
                reason: e.to_string(),
            }),
        }
    }

    /// A request from the server: NOTIFY or BENOTIFY of the self subscription. It is used
    /// only when it belongs to our subscription's dialog and its server signature verifies
    /// ([MS-SIPAE] 3.2.5.2; the [MS-PRES] 4.4.3 BENOTIFY carries Authentication-Info).
    /// Returns the response to send: 200 for a NOTIFY, 481 for a NOTIFY outside our
    /// subscription, nothing for a BENOTIFY ([MS-SIP] best-effort NOTIFY has no
    /// response) or for what fails verification (dropped).
    pub fn handle_request(
        &mut self,
        _now: Instant,
        data: &[u8],
        sa: &mut ClientSa,
    ) -> Option<Vec<u8>> {
        let m = Message::parse(data).ok()?;
        let method = m.method()?;
        let best_effort = method == Method::Benotify;
        if method != Method::Notify && !best_effort {
            return None;
        }
        let ours = match (&self.self_sub, m.call_id().ok()) {
            (Some((cid, tag)), Some(c)) => {
                c == cid
                    && m.first(HeaderName::To)
                        .map(crate::sipe::sipae::raw_tag)
                        .is_some_and(|t| t == tag)
                    && m.first(HeaderName::Event)
                        .is_some_and(|e| e.trim().eq_ignore_ascii_case(roaming::EVENT))
            }
            _ => false,
        };
        if !ours {
            return (!best_effort).then(|| crate::msg::response_to(&m, 481, None).to_bytes());
        }
        match sa.verify(&m) {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                self.events.push(ServicesEvent::Failed {
                    what: "roaming self",
                    code: 0,
                    reason: "notification without a verifying server signature".into(),
                });
                return None;
            }
        }
        if !m.body.is_empty() {
            self.apply_roaming(m.body);
        }
        (!best_effort).then(|| crate::msg::response_to(&m, 200, None).to_bytes())
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        method: Method<'_>,
        uri: &str,
        headers: &[(HeaderName<'static>, &str)],
        body: Option<(&str, Vec<u8>)>,
        kind: Kind,
        sa: &mut ClientSa,
    ) {
        self.send_in(method, uri, headers, body, kind, sa, None);
    }

    /// [`Self::send`], inside a dialog when `dialog` is given (Call-ID, our tag, the
    /// remote tag, CSeq).
    #[allow(clippy::too_many_arguments)]
    fn send_in(
        &mut self,
        method: Method<'_>,
        uri: &str,
        headers: &[(HeaderName<'static>, &str)],
        body: Option<(&str, Vec<u8>)>,
        kind: Kind,
        sa: &mut ClientSa,
        dialog: Option<(String, String, String, u32)>,
    ) {
        let (call_id, tag, remote_tag, cseq) = match dialog {
            Some((c, t, r, n)) => (c, t, Some(r), n),
            None => (
                format!("{:016x}{:016x}", self.next(), self.next()),
                format!("{:010x}", self.next() & 0xff_ffff_ffff),
                None,
                1,
            ),
        };
        let branch = self.next();
        let mut b = MessageBuf::request(method, uri);
        b.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {};branch=z9hG4bK{branch:016x}",
                self.cfg.via_transport, self.cfg.via_host
            ),
        );
        b.push(HeaderName::MaxForwards, "70");
        b.push(
            HeaderName::From,
            format!("<{}>;tag={tag};epid={}", self.cfg.aor, self.cfg.epid),
        );
        match &remote_tag {
            Some(r) => b.push(HeaderName::To, format!("<{}>;tag={r}", self.cfg.aor)),
            None => b.push(HeaderName::To, format!("<{}>", self.cfg.aor)),
        };
        b.push(HeaderName::CallId, call_id.clone());
        b.push(HeaderName::CSeq, format!("{cseq} {}", method.as_str()));
        b.push(HeaderName::Contact, format!("<{}>", self.cfg.contact));
        for (n, v) in headers {
            b.push(*n, *v);
        }
        if !self.cfg.user_agent.is_empty() {
            b.push(HeaderName::UserAgent, self.cfg.user_agent.clone());
        }
        if let Some((ct, body)) = body {
            b.set_body(ct, body);
        }
        let crand = self.next() as u32;
        let bare = b.to_bytes();
        match Message::parse(&bare)
            .ok()
            .map(|m| sa.credentials(&m, crand))
        {
            Some(Ok(c)) => {
                b.push(sa.header(), c);
            }
            _ => {
                self.events.push(ServicesEvent::Failed {
                    what: "sign",
                    code: 0,
                    reason: "request could not be signed".into(),
                });
                return;
            }
        }
        if kind == Kind::RoamingSelf {
            self.self_sub = Some((call_id.clone(), tag));
        }
        self.pending.insert(call_id, kind);
        self.outgoing.push(b.to_bytes());
    }

    fn publish(&mut self, a: Availability, sa: &mut ClientSa) {
        if self.in_flight {
            return;
        }
        let doc = presence::machine_state(
            &self.cfg.aor,
            a,
            self.cfg.state_instance,
            self.version,
            &self.cfg.state_containers.clone(),
        )
        .emit();
        let aor = self.cfg.aor.clone();
        self.in_flight = true;
        self.send(
            Method::Service,
            &aor,
            &[],
            Some((presence::CONTENT_TYPE, doc.into_bytes())),
            Kind::Publish(a),
            sa,
        );
    }

    /// What should be published now: in a call Busy, DND when set, else by the timers.
    fn wanted(&self, now: Instant) -> Availability {
        if self.dnd {
            return Availability::DoNotDisturb;
        }
        if self.in_call {
            return Availability::Busy;
        }
        let idle = self
            .last_activity
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        if idle >= self.cfg.timers.inactive_after + self.cfg.timers.away_after {
            Availability::Away
        } else if idle >= self.cfg.timers.inactive_after {
            Availability::Inactive
        } else {
            Availability::Available
        }
    }

    fn update(&mut self, now: Instant, sa: &mut ClientSa) {
        let w = self.wanted(now);
        if self.published != Some(w) {
            self.publish(w, sa);
        }
    }

    /// A key press or hook change: the user is active again.
    pub fn user_activity(&mut self, now: Instant, sa: &mut ClientSa) {
        self.last_activity = Some(now);
        self.update(now, sa);
    }

    pub fn set_in_call(&mut self, now: Instant, in_call: bool, sa: &mut ClientSa) {
        self.in_call = in_call;
        self.last_activity = Some(now);
        self.update(now, sa);
    }

    pub fn set_dnd(&mut self, now: Instant, dnd: bool, sa: &mut ClientSa) {
        self.dnd = dnd;
        self.update(now, sa);
    }

    /// A verified 2xx to the self SUBSCRIBE: the dialog (RFC 6665 4.1.2.1) and the granted
    /// duration (Expires, else the subscription-state's expires; [MS-PRES] 4.4.3 grants
    /// 47,515 s). The refresh goes out at 90 % of it.
    fn self_subscribed(&mut self, now: Instant, m: &Message<'_>) {
        let granted = m.expires().ok().flatten().or_else(|| {
            let ss = m.first(HeaderName::SubscriptionState)?;
            ss.split(';').skip(1).find_map(|p| {
                let (n, v) = p.split_once('=')?;
                n.trim()
                    .eq_ignore_ascii_case("expires")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            })
        });
        let (Some(granted), Ok(call_id)) = (granted, m.call_id()) else {
            return;
        };
        if granted == 0 {
            self.self_dialog = None;
            return;
        }
        let Some((sub_cid, tag)) = self.self_sub.clone() else {
            return;
        };
        if sub_cid != call_id {
            return;
        }
        let remote_tag = m
            .first(HeaderName::To)
            .map(crate::sipe::sipae::raw_tag)
            .unwrap_or_default()
            .to_string();
        let target = m
            .first(HeaderName::Contact)
            .map(|c| crate::sipe::sipae::raw_uri(c).to_string())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| self.cfg.aor.clone());
        let cseq = self
            .self_dialog
            .as_ref()
            .map(|d| d.cseq)
            .unwrap_or_else(|| m.cseq().map(|c| c.seq).unwrap_or(1));
        let life = std::time::Duration::from_secs(u64::from(granted));
        self.self_dialog = Some(SelfDialog {
            call_id: sub_cid,
            tag,
            remote_tag,
            target,
            cseq,
            refresh_at: now + life * 9 / 10,
        });
    }

    pub fn poll_request(&mut self) -> Option<Vec<u8>> {
        (!self.outgoing.is_empty()).then(|| self.outgoing.remove(0))
    }

    pub fn poll_event(&mut self) -> Option<ServicesEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    /// The next presence transition or self subscription refresh.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let refresh = self
            .self_dialog
            .as_ref()
            .filter(|_| {
                !self
                    .pending
                    .values()
                    .any(|k| *k == Kind::RoamingSelfRefresh)
            })
            .map(|d| d.refresh_at);
        [self.presence_timeout(), refresh]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the self subscription will be refreshed.
    pub fn self_refresh_at(&self) -> Option<Instant> {
        self.self_dialog.as_ref().map(|d| d.refresh_at)
    }

    fn presence_timeout(&self) -> Option<Instant> {
        let t = self.last_activity?;
        if self.in_call || self.dnd {
            return None;
        }
        let inactive = t + self.cfg.timers.inactive_after;
        let away = inactive + self.cfg.timers.away_after;
        match self.published {
            Some(Availability::Available) | None => Some(inactive),
            Some(Availability::Inactive) => Some(away),
            _ => None,
        }
    }

    pub fn handle_timeout(&mut self, now: Instant, sa: &mut ClientSa) {
        self.update(now, sa);
        let refreshing = self
            .pending
            .values()
            .any(|k| *k == Kind::RoamingSelfRefresh);
        if let Some(mut d) = self
            .self_dialog
            .clone()
            .filter(|d| now >= d.refresh_at && !refreshing)
        {
            d.cseq += 1;
            self.send_self_subscribe(sa, Some(&d));
            self.self_dialog = Some(d);
        }
    }

    /// A final response to one of our requests.
    pub fn handle_response(&mut self, now: Instant, data: &[u8], sa: &mut ClientSa) {
        let Ok(m) = Message::parse(data) else { return };
        let Some(code) = m.status() else { return };
        if code < 200 {
            return;
        }
        let Some(kind) = m.call_id().ok().and_then(|c| self.pending.remove(c)) else {
            return;
        };
        let what = match kind {
            Kind::Provisioning => "provisioning",
            Kind::LocationProfile => "location profile",
            Kind::Publish(_) => "presence",
            Kind::RoamingSelf | Kind::RoamingSelfRefresh => "roaming self",
        };
        if let Kind::Publish(_) = kind {
            self.in_flight = false;
        }
        if !(200..300).contains(&code) && kind == Kind::RoamingSelfRefresh {
            // RFC 6665 4.1.2.1 / 4.1.2.2: a refresh refused (481: the subscription is gone)
            // ends the subscription; a new one replaces it.
            self.events.push(ServicesEvent::Failed {
                what,
                code,
                reason: "self subscription refresh refused; subscribing again".into(),
            });
            self.subscribe_roaming_self(sa);
            return;
        }
        if !(200..300).contains(&code) {
            let reason = crate::sipe::diagnostics::notification(&m)
                .map(|n| n.text.to_string())
                .unwrap_or_else(|| format!("{code}"));
            self.events
                .push(ServicesEvent::Failed { what, code, reason });
            return;
        }
        // [MS-SIPAE] 3.2.5.2: only a verified response is acted on.
        match sa.verify(&m) {
            Ok(true) => {}
            Ok(false) => {
                return self.events.push(ServicesEvent::Failed {
                    what,
                    code,
                    reason: "unsigned response".into(),
                })
            }
            Err(e) => {
                return self.events.push(ServicesEvent::Failed {
                    what,
                    code,
                    reason: format!("server signature: {e}"),
                })
            }
        }
        match kind {
            Kind::Provisioning => match ProvisionGroupList::parse(m.body) {
                Ok(l) => {
                    let s = InbandSettings::from_list(&l);
                    if let Some(lp) = s.location_profile.clone() {
                        let body =
                            format!("<request xmlns=\"{}\"/>", provisioning::NS_LOCATION_PROFILE);
                        self.send(
                            Method::Service,
                            &lp,
                            &[(
                                HeaderName::Accept,
                                "application/ms-location-profile-definition+xml",
                            )],
                            Some((LOCATION_PROFILE_REQUEST_TYPE, body.into_bytes())),
                            Kind::LocationProfile,
                            sa,
                        );
                    }
                    self.settings = Some(s.clone());
                    self.events.push(ServicesEvent::Provisioned(s));
                }
                Err(e) => self.events.push(ServicesEvent::Failed {
                    what,
                    code,
                    reason: e.to_string(),
                }),
            },
            Kind::LocationProfile => match LocationProfile::parse(m.body) {
                Ok(p) => {
                    self.dial_plan = Some(p.clone());
                    self.events.push(ServicesEvent::DialPlan(p));
                }
                Err(e) => self.events.push(ServicesEvent::Failed {
                    what,
                    code,
                    reason: e.to_string(),
                }),
            },
            Kind::RoamingSelf | Kind::RoamingSelfRefresh => {
                self.self_subscribed(now, &m);
                // The piggybacked first NOTIFY (ms-piggyback-first-notify).
                let ct = m.first(HeaderName::ContentType).unwrap_or("");
                if !m.body.is_empty() && ct.trim().eq_ignore_ascii_case(roaming::CONTENT_TYPE) {
                    self.apply_roaming(m.body);
                }
            }
            Kind::Publish(a) => {
                self.version = self.version.wrapping_add(1);
                self.published = Some(a);
                self.events.push(ServicesEvent::Published(a));
                // Something changed while this one was in flight.
                self.update(now, sa);
            }
        }
    }
}
