//! After sign-in: in-band provisioning ([MS-SIPREGE]), the dial plan ([MS-SIPRE] 2.2.8)
//! applied when dialing, presence publication ([MS-PRES]) with the manual's 4.4 timers,
//! and failure responses mapped to the manual's notifications, all against the Skype for
//! Business server double on a virtual clock; plus parse/emit round trips of the XML
//! bodies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ac_sip::msg::{response_to, HeaderName, Message, MessageBuf, Method};
use ac_sip::sipe::diagnostics::{self, CANNOT_CONNECT, INVALID_CREDENTIALS, SERVER_NOT_FOUND};
use ac_sip::sipe::presence::{self, Availability, Publication, Publish};
use ac_sip::sipe::provisioning::{
    self, InbandSettings, Item, LocationProfile, LockedCalls, ProvisionGroup, ProvisionGroupList,
    Rule,
};
use ac_sip::sipe::register::{SipeConfig, SipeEvent, SipeRegistration};
use ac_sip::sipe::roaming::{self, RoamingCategory, RoamingData, VoicemailCounts, VoicemailTokens};
use ac_sip::sipe::server::{ServerConfig, ServerEvent, SfbServer};
use ac_sip::sipe::services::{PresenceTimers, ServicesConfig, ServicesEvent, SipeServices};
use ac_sip::sipe::xml::XmlError;
use proptest::prelude::*;

const PROVISIONING: &str = include_str!("fixtures/sipe/provisioning-response.xml");
const LOCATION_PROFILE: &str = include_str!("fixtures/sipe/location-profile.xml");
const ROAMING_SELF: &str = include_str!("fixtures/sipe/roaming-self.xml");
const LP_URI: &str = "sip:sfb.contoso.com;opaque=app:locationprofile:get;default";

fn server() -> SfbServer {
    SfbServer::new(
        ServerConfig {
            targetname: "sfb.contoso.com".into(),
            version: 4,
            domain: "CONTOSO".into(),
            users: HashMap::from([("alice".to_string(), "P@ssw0rd!".to_string())]),
            expires: 600,
            date: "Thu, 31 Jan 2008 00:01:56 GMT".into(),
            provisioning: Some(PROVISIONING.into()),
            location_profile: Some((LP_URI.into(), LOCATION_PROFILE.into())),
        },
        42,
    )
}

fn phone() -> SipeRegistration {
    SipeRegistration::new(
        SipeConfig {
            aor: "sip:alice@contoso.com".into(),
            registrar: "sip:contoso.com".into(),
            contact: "sip:127.0.0.1:5061;transport=tls".into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            user: "alice".into(),
            domain: "CONTOSO".into(),
            password: "P@ssw0rd!".into(),
            workstation: "AC-440HD".into(),
            epid: "8248ca9ebb".into(),
            instance: "4233FD41-093B-5FD6-B5D2-651ED55969E6".into(),
            expires: 3600,
            user_agent: "AUDC-IPPhone/3.0 (440HD)".into(),
            retry_after: Duration::from_secs(30),
        },
        7,
        0x01d9_1234_5678_9abc,
    )
}

fn services(seed: u64) -> SipeServices {
    SipeServices::new(
        ServicesConfig {
            aor: "sip:alice@contoso.com".into(),
            contact: "sip:127.0.0.1:5061;transport=tls".into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            epid: "8248ca9ebb".into(),
            user_agent: "AUDC-IPPhone/3.0 (440HD)".into(),
            timers: PresenceTimers::from_schema(),
            state_instance: 1,
            state_containers: vec![2, 3],
        },
        seed,
    )
}

fn signed_in(s: &mut SfbServer, now: Instant) -> SipeRegistration {
    let mut p = phone();
    p.register(now);
    while let Some(req) = p.poll_request() {
        let resp = s.handle(&req).expect("answer");
        p.handle_response(now, &resp);
    }
    assert_eq!(p.poll_event(), Some(SipeEvent::Registered { expires: 600 }));
    while s.poll_event().is_some() {}
    p
}

/// Sends what the services queued through the double, one transaction at a time.
fn pump(
    svc: &mut SipeServices,
    reg: &mut SipeRegistration,
    s: &mut SfbServer,
    now: Instant,
) -> usize {
    let mut n = 0;
    while let Some(req) = svc.poll_request() {
        let resp = s.handle(&req).expect("the double answers");
        svc.handle_response(now, &resp, reg.sa_mut().expect("association"));
        n += 1;
        assert!(n < 20);
    }
    n
}

fn events(svc: &mut SipeServices) -> Vec<ServicesEvent> {
    std::iter::from_fn(|| svc.poll_event()).collect()
}

fn server_events(s: &mut SfbServer) -> Vec<ServerEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn presence_timers_come_from_the_schema() {
    // ac_cfg: lync/presence/state_change_timeout and state_inactive_timeout, 300 s each.
    assert_eq!(
        PresenceTimers::from_schema(),
        PresenceTimers {
            inactive_after: Duration::from_secs(300),
            away_after: Duration::from_secs(300)
        }
    );
}

/// The phone signs in, subscribes to in-band provisioning, applies what comes back, fetches
/// its dial plan, dials through it, and publishes Available -> Inactive -> Away on the
/// manual's timers, Busy in a call, DND when set, Available again on activity.
#[test]
fn provisioning_dial_plan_and_presence_against_the_double() {
    let mut now = Instant::now();
    let mut s = server();
    let mut reg = signed_in(&mut s, now);
    let mut svc = services(11);
    svc.start(now, reg.sa_mut().unwrap());
    // SUBSCRIBE provisioning, SERVICE publish, SUBSCRIBE roaming self, then SERVICE
    // location profile.
    assert_eq!(pump(&mut svc, &mut reg, &mut s, now), 4);

    let sev = server_events(&mut s);
    assert!(sev.contains(&ServerEvent::ProvisioningRequested {
        groups: provisioning::REQUESTED_GROUPS
            .iter()
            .map(|g| g.to_string())
            .collect()
    }));
    assert!(sev.contains(&ServerEvent::LocationProfileRequested));
    assert!(sev.contains(&ServerEvent::Published {
        uri: "sip:alice@contoso.com".into(),
        availability: 3500,
        version: 0
    }));
    // Every request was signed and verified by the double (cnum 2.. after REGISTER's 1).
    let signed: Vec<_> = sev
        .iter()
        .filter_map(|e| match e {
            ServerEvent::SignedRequest { method, .. } => Some(method.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(signed, ["SUBSCRIBE", "SERVICE", "SUBSCRIBE", "SERVICE"]);

    let ev = events(&mut svc);
    let settings = ev
        .iter()
        .find_map(|e| match e {
            ServicesEvent::Provisioned(s) => Some(s.clone()),
            _ => None,
        })
        .expect("provisioned");
    assert_eq!(
        settings.voicemail_uri.as_deref(),
        Some("sip:alice@contoso.com;opaque=app:voicemail")
    );
    assert!(settings.device_update);
    assert_eq!(
        settings.updates_internal_url.as_deref(),
        Some("https://sfb.contoso.com/RequestHandler/ucdevice.upx")
    );
    assert!(settings.hybrid_media_bypass());
    assert_eq!(settings.locked_calls, LockedCalls::None);
    assert_eq!(
        settings
            .power_save
            .map(|p| (p.office_hours_ms, p.post_office_hours_ms)),
        Some((900_000, 300_000))
    );
    assert!(ev
        .iter()
        .any(|e| matches!(e, ServicesEvent::DialPlan(p) if p.name == "Redmond.contoso.com")));
    assert!(ev.contains(&ServicesEvent::Published(Availability::Available)));
    // Dialing goes through the dial plan.
    assert_eq!(svc.dial_uri("1234"), "tel:+14255551234");
    assert_eq!(svc.dial_uri("94255550199"), "tel:+14255550199");
    assert_eq!(svc.dial_uri("5550100"), "tel:+14255550100");
    assert_eq!(
        svc.dial_uri("555"),
        "sip:555;phone-context=Redmond.contoso.com@contoso.com;user=phone"
    );

    // Manual 4.4: Inactive after state_change_timeout, Away state_inactive_timeout later.
    let t = svc.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(300));
    now = t;
    svc.handle_timeout(now, reg.sa_mut().unwrap());
    assert_eq!(pump(&mut svc, &mut reg, &mut s, now), 1);
    assert_eq!(s.presence["sip:alice@contoso.com"], Availability::Inactive);
    assert!(server_events(&mut s).contains(&ServerEvent::Published {
        uri: "sip:alice@contoso.com".into(),
        availability: 5000,
        version: 1
    }));
    let t = svc.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(300));
    now = t;
    svc.handle_timeout(now, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, now);
    assert_eq!(s.presence["sip:alice@contoso.com"], Availability::Away);
    assert_eq!(svc.published(), Some(Availability::Away));
    // No presence timer left; only the self subscription's refresh is scheduled.
    assert_eq!(svc.poll_timeout(), svc.self_refresh_at());
    // A key press: Available again, and the timer restarts.
    now += Duration::from_secs(5);
    svc.user_activity(now, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, now);
    assert_eq!(s.presence["sip:alice@contoso.com"], Availability::Available);
    assert_eq!(svc.poll_timeout(), Some(now + Duration::from_secs(300)));
    // In a call: Busy, no idle timer; DND wins over the call.
    svc.set_in_call(now, true, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, now);
    assert_eq!(s.presence["sip:alice@contoso.com"], Availability::Busy);
    assert_eq!(svc.poll_timeout(), svc.self_refresh_at());
    svc.set_dnd(now, true, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, now);
    assert_eq!(
        s.presence["sip:alice@contoso.com"],
        Availability::DoNotDisturb
    );
    svc.set_dnd(now, false, reg.sa_mut().unwrap());
    svc.set_in_call(now, false, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, now);
    assert_eq!(s.presence["sip:alice@contoso.com"], Availability::Available);

    // A second endpoint publishing with a stale version is refused (409) and says so.
    let mut other = services(99);
    other.start(now, reg.sa_mut().unwrap());
    pump(&mut other, &mut reg, &mut s, now);
    assert!(events(&mut other).iter().any(|e| matches!(
        e,
        ServicesEvent::Failed {
            what: "presence",
            code: 409,
            ..
        }
    )));
}

/// A provisioning answer whose server signature does not verify is not applied.
#[test]
fn unverified_provisioning_is_not_applied() {
    let now = Instant::now();
    let mut s = server();
    let mut reg = signed_in(&mut s, now);
    let mut svc = services(5);
    svc.start(now, reg.sa_mut().unwrap());
    let sub = svc.poll_request().unwrap();
    let resp = s.handle(&sub).unwrap();
    let forged = String::from_utf8(resp)
        .unwrap()
        .replace("Expires: 0", "Expires: 1");
    svc.handle_response(now, forged.as_bytes(), reg.sa_mut().unwrap());
    assert!(svc.settings().is_none());
    assert!(events(&mut svc).iter().any(|e| matches!(
        e,
        ServicesEvent::Failed { what: "provisioning", reason, .. } if reason.contains("signature")
    )));
}

#[test]
fn provisioning_fixture_parses_and_round_trips() {
    let l = ProvisionGroupList::parse(PROVISIONING.as_bytes()).unwrap();
    assert_eq!(l.groups.len(), 2);
    let ep = &l.groups[0];
    assert_eq!(ep.name, "endpointConfiguration");
    // The [MS-SIPREGE] 4.2.2 properties as printed.
    for (n, v) in [
        ("ShowRecentContacts", "true"),
        ("ShowManagePrivacyRelationships", "false"),
        ("MaxPhotoSizeKB", "10"),
        ("DisableMusicOnHold", "false"),
        ("EnableTracing", "true"),
    ] {
        assert!(ep.items.contains(&Item::Property {
            name: n.into(),
            value: v.into()
        }));
    }
    let again = ProvisionGroupList::parse(l.emit().as_bytes()).unwrap();
    assert_eq!(again, l.canonical());
    // The request body names the groups (2.2.2.4) and the double reads them back.
    let body = provisioning::request_body(&["ServerConfiguration", "ucPolicy"]);
    assert_eq!(
        provisioning::parse_request(body.as_bytes()).unwrap(),
        ["ServerConfiguration", "ucPolicy"]
    );
}

fn list(items: &[(&str, &str, bool)]) -> ProvisionGroupList {
    ProvisionGroupList {
        groups: vec![ProvisionGroup {
            name: "x".into(),
            opaque: None,
            items: items
                .iter()
                .map(|&(n, v, prop)| {
                    if prop {
                        Item::Property {
                            name: n.into(),
                            value: v.into(),
                        }
                    } else {
                        Item::Element {
                            name: n.into(),
                            value: v.into(),
                        }
                    }
                })
                .collect(),
        }],
    }
}

/// Manual 5.3, 4.9.1.1, 3.2.7 and 3.3.14.5 rules on the provisioned values.
#[test]
fn inband_settings_follow_the_manual() {
    let s = InbandSettings::from_list(&list(&[("updatesServerEnabled", "true", false)]));
    assert!(
        s.device_update,
        "EnableDeviceUpdate absent counts as not false"
    );
    let s = InbandSettings::from_list(&list(&[
        ("updatesServerEnabled", "true", false),
        ("EnableDeviceUpdate", "false", true),
    ]));
    assert!(!s.device_update);
    let s = InbandSettings::from_list(&list(&[("EnableDeviceUpdate", "true", true)]));
    assert!(!s.device_update, "updatesServerEnabled must be true");
    // lync/SfBDeviceUpdate: 0 only when no DHCP/static firmware URL; 1 always.
    let on = InbandSettings::from_list(&list(&[("updatesServerEnabled", "true", false)]));
    assert!(on.use_device_update(false, false));
    assert!(!on.use_device_update(false, true));
    assert!(on.use_device_update(true, true));
    // Not provisioned: incoming calls only while locked.
    let none = InbandSettings::from_list(&ProvisionGroupList::default());
    assert_eq!(none.locked_calls, LockedCalls::IncomingOnly);
    assert!(!none.device_update && none.power_save.is_none() && !none.hybrid_media_bypass());
    let z = InbandSettings::from_list(&list(&[("DisableHandsetOnLockedMachine", "0", true)]));
    assert_eq!(z.locked_calls, LockedCalls::Both);
    // Power save only with all three values and the switch on.
    let ps = InbandSettings::from_list(&list(&[
        ("EnablePowerSaveMode", "true", true),
        ("PowerSaveDuringOfficeHoursTimeoutMS", "1000", true),
    ]));
    assert!(ps.power_save.is_none());
    // Hybrid media bypass only in OnPremOnlineHybrid mode with a service URL.
    let hm = InbandSettings::from_list(&list(&[("VoiceDeploymentMode", "OnPrem", true)]));
    assert!(!hm.hybrid_media_bypass());
}

#[test]
fn location_profile_rules() {
    let p = LocationProfile::parse(LOCATION_PROFILE.as_bytes()).unwrap();
    assert_eq!(p.name, "Redmond.contoso.com");
    assert_eq!(p.rules.len(), 4);
    assert_eq!(p.external_access_prefix.as_deref(), Some("9"));
    assert_eq!(p.optimize_device_dialing, Some(true));
    assert_eq!(p.rules[0].internal_extension, Some(true));
    let (n, r) = p.normalize("4321").unwrap();
    assert_eq!(n, "+14255554321");
    assert_eq!(r.internal_extension, Some(true));
    assert_eq!(p.normalize("5550100").unwrap().0, "+14255550100");
    // The backreference rule cannot be evaluated and is skipped.
    assert!(!p.rules[3].usable());
    assert_eq!(p.normalize("111111"), None);
    assert_eq!(p.normalize(&"1".repeat(100)), None);
    assert_eq!(LocationProfile::parse(p.emit().as_bytes()).unwrap(), p);
    // [MC-RegEx] substitutions: $n takes the longest group number that exists, $$ is a
    // dollar, $& the match, ${n} a group.
    let r = Rule::new(r"^(\d)(\d)$", "$12-$$-$&-${2}x");
    assert_eq!(r.apply("47").unwrap(), "42-$-47-7x");
    // Missing Pattern is a typed error (2.2.8.2: MUST include Pattern and Translation).
    let bad = format!(
        "<LocationProfileDescription xmlns=\"{}\"><Name>x</Name><Rule><Translation>1</Translation></Rule></LocationProfileDescription>",
        provisioning::NS_LOCATION_PROFILE
    );
    assert_eq!(
        LocationProfile::parse(bad.as_bytes()),
        Err(XmlError::Missing("Pattern"))
    );
    // A DTD (entity expansion) is refused.
    let dtd = b"<!DOCTYPE a [<!ENTITY x \"y\">]><LocationProfileDescription/>";
    assert!(matches!(
        LocationProfile::parse(dtd),
        Err(XmlError::Syntax(_))
    ));
}

#[test]
fn publish_documents() {
    let p = presence::machine_state(
        "sip:alice@contoso.com",
        Availability::Inactive,
        7,
        3,
        &[2, 3],
    );
    let back = Publish::parse(p.emit().as_bytes()).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.publications[1].availability, Some(5000));
    assert_eq!(
        back.publications[1].state_type.as_deref(),
        Some("machineState")
    );
    for (n, a) in [
        (3500, Availability::Available),
        (5000, Availability::Inactive),
        (6500, Availability::Busy),
        (9500, Availability::DoNotDisturb),
        (15500, Availability::Away),
        (18500, Availability::Offline),
    ] {
        assert_eq!(a.number(), n);
        assert_eq!(Availability::from_number(n), a);
    }
    assert!(matches!(
        Publish::parse(b"<publish><publications uri=\"sip:a@b\"><publication categoryName=\"state\" instance=\"x\" container=\"2\" version=\"0\"/></publications></publish>"),
        Err(XmlError::Value("publication"))
    ));
}

fn failure(code: u16, diag: Option<&str>) -> Vec<u8> {
    let mut req = MessageBuf::request(Method::Register, "sip:contoso.com");
    req.push(
        HeaderName::Via,
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1",
    );
    req.push(HeaderName::From, "<sip:alice@contoso.com>;tag=1");
    req.push(HeaderName::To, "<sip:alice@contoso.com>");
    req.push(HeaderName::CallId, "c1");
    req.push(HeaderName::CSeq, "1 REGISTER");
    let req = req.to_bytes();
    let mut r = response_to(&Message::parse(&req).unwrap(), code, Some("t"));
    if let Some(d) = diag {
        r.push(HeaderName::MsDiagnostics, d);
    }
    r.to_bytes()
}

/// Failure responses to the screen texts of the manual's Table 2-9 and section 8.
#[test]
fn failures_map_to_the_manuals_notifications() {
    let r = failure(
        403,
        Some("4011;reason=\"User account is disabled\";source=\"sfb.contoso.com\""),
    );
    let n = diagnostics::notification(&Message::parse(&r).unwrap()).unwrap();
    assert_eq!(n.text, INVALID_CREDENTIALS);
    assert_eq!(n.section, "8.1");
    assert_eq!(
        n.diagnostics,
        Some((4011, "User account is disabled".into()))
    );
    let r = failure(404, None);
    assert_eq!(
        diagnostics::notification(&Message::parse(&r).unwrap())
            .unwrap()
            .text,
        SERVER_NOT_FOUND
    );
    for code in [408, 503, 504] {
        let r = failure(code, None);
        assert_eq!(
            diagnostics::notification(&Message::parse(&r).unwrap())
                .unwrap()
                .text,
            CANNOT_CONNECT
        );
    }
    assert_eq!(
        diagnostics::notification(&Message::parse(&failure(486, None)).unwrap()),
        None
    );
}

/// The sign-in reports the manual's texts: a 404 with ms-diagnostics from the registrar,
/// and a transaction that got no response.
#[test]
fn sign_in_failures_show_the_manuals_texts() {
    let now = Instant::now();
    let mut p = phone();
    p.register(now);
    let req = p.poll_request().unwrap();
    let mut r = response_to(&Message::parse(&req).unwrap(), 404, Some("t"));
    r.push(
        HeaderName::MsDiagnostics,
        "4005;reason=\"Destination URI either not enabled for SIP or does not exist\"",
    );
    p.handle_response(now, &r.to_bytes());
    assert_eq!(
        p.poll_event(),
        Some(SipeEvent::Failed {
            code: 404,
            reason: format!(
                "{SERVER_NOT_FOUND} (4005: Destination URI either not enabled for SIP or does not exist)"
            )
        })
    );
    let mut q = phone();
    q.register(now);
    let _ = q.poll_request();
    q.handle_failure(now, 408);
    assert_eq!(
        q.poll_event(),
        Some(SipeEvent::Failed {
            code: 408,
            reason: CANNOT_CONNECT.into()
        })
    );
}

/// Manual 3.3.20: an online user's voicemail counts come with the roaming self
/// subscription ([MS-PRES] 4.4.1 SUBSCRIBE; the 200 carries the first `roamingData`, later
/// changes come as signed BENOTIFYs like 4.4.3's). The phone shows the waiting count; a
/// notification whose signature does not verify, or a replayed one, changes nothing.
#[test]
fn voicemail_counts_from_the_roaming_self_subscription() {
    let now = Instant::now();
    let mut s = server();
    s.set_roaming_self(ROAMING_SELF).unwrap();
    let mut reg = signed_in(&mut s, now);
    let mut svc = services(12);
    assert_eq!(svc.voicemail(), None);
    svc.start(now, reg.sa_mut().unwrap());
    assert_eq!(pump(&mut svc, &mut reg, &mut s, now), 4);
    assert!(
        server_events(&mut s).contains(&ServerEvent::RoamingSelfSubscribed {
            types: roaming::ALL_TYPES.iter().map(|t| t.to_string()).collect()
        })
    );
    // The piggybacked first NOTIFY: the fixture's 2 unread, 5 read, and the 4.4.3 example's
    // aggregate state.
    let first = VoicemailCounts { unread: 2, read: 5 };
    assert_eq!(svc.voicemail(), Some(first));
    assert!(first.waiting());
    assert!(events(&mut svc).contains(&ServicesEvent::Voicemail(first)));
    assert_eq!(
        svc.roaming_self().unwrap().aggregate_availability(),
        Some(3500)
    );

    // A new voicemail: the double's BENOTIFY (no response to a best-effort NOTIFY).
    let notes = s.set_voicemail(VoicemailCounts { unread: 3, read: 5 });
    assert_eq!(notes.len(), 1);
    let m = Message::parse(&notes[0]).unwrap();
    assert_eq!(m.method(), Some(Method::Benotify));
    assert_eq!(m.first(HeaderName::Require), Some("eventlist"));
    assert_eq!(m.first(HeaderName::Event), Some(roaming::EVENT));
    assert!(m.first(HeaderName::AuthenticationInfo).is_some());
    assert_eq!(
        svc.handle_request(now, &notes[0], reg.sa_mut().unwrap()),
        None
    );
    let three = VoicemailCounts { unread: 3, read: 5 };
    assert_eq!(svc.voicemail(), Some(three));
    assert_eq!(events(&mut svc), [ServicesEvent::Voicemail(three)]);

    // Tampered (the signed CSeq changed) and replayed notifications are dropped.
    let notes = s.set_voicemail(VoicemailCounts { unread: 9, read: 5 });
    let text = String::from_utf8(notes[0].clone()).unwrap();
    let forged = text.replace(" BENOTIFY\r\n", "0 BENOTIFY\r\n");
    assert_ne!(forged, text);
    assert_eq!(
        svc.handle_request(now, forged.as_bytes(), reg.sa_mut().unwrap()),
        None
    );
    assert_eq!(svc.voicemail(), Some(three));
    assert!(matches!(
        events(&mut svc)[..],
        [ServicesEvent::Failed {
            what: "roaming self",
            ..
        }]
    ));
    // Everything listened to: the lamp goes off.
    let notes2 = s.set_voicemail(VoicemailCounts { unread: 0, read: 8 });
    svc.handle_request(now, &notes2[0], reg.sa_mut().unwrap());
    assert_eq!(
        svc.voicemail(),
        Some(VoicemailCounts { unread: 0, read: 8 })
    );
    assert!(!svc.voicemail().unwrap().waiting());
    // The older (9 unread) notification arriving late is a replay (snum) and is dropped.
    svc.handle_request(now, &notes[0], reg.sa_mut().unwrap());
    assert_eq!(
        svc.voicemail(),
        Some(VoicemailCounts { unread: 0, read: 8 })
    );

    // A NOTIFY outside the subscription gets 481.
    let mut b = MessageBuf::request(Method::Notify, "sip:127.0.0.1:5061;transport=tls");
    b.push(
        HeaderName::Via,
        "SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bKx1",
    );
    b.push(HeaderName::From, "<sip:alice@contoso.com>;tag=a");
    b.push(HeaderName::To, "<sip:alice@contoso.com>;tag=b");
    b.push(HeaderName::CallId, "not-ours");
    b.push(HeaderName::CSeq, "1 NOTIFY");
    b.push(HeaderName::Event, roaming::EVENT);
    let r = svc
        .handle_request(now, &b.to_bytes(), reg.sa_mut().unwrap())
        .expect("a response");
    assert_eq!(Message::parse(&r).unwrap().status(), Some(481));
}

#[test]
fn roaming_self_fixture_parses_and_round_trips() {
    let d = RoamingData::parse(ROAMING_SELF.as_bytes()).unwrap();
    assert_eq!(d.uri.as_deref(), Some("sip:alice@contoso.com"));
    assert_eq!(
        d.categories[0],
        RoamingCategory {
            name: "state".into(),
            instance: 1,
            container: Some(2),
            version: 1,
            publish_time: Some("2008-01-22T23:41:05.450".into()),
            expire_type: Some("user".into()),
            state_type: Some("aggregateState".into()),
            availability: Some(3500),
            voicemail: None,
        }
    );
    assert_eq!(d.voicemail(), Some(VoicemailCounts { unread: 2, read: 5 }));
    assert_eq!(RoamingData::parse(d.emit().as_bytes()).unwrap(), d);
    // [MS-PRES] 4.4.1's request body.
    assert_eq!(
        roaming::parse_request(roaming::request_body(roaming::ALL_TYPES).as_bytes()).unwrap(),
        roaming::ALL_TYPES
    );
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9&<>\"' é+$^()\\\\:;=/.\t\r\n-]{0,16}"
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_.-]{0,10}"
}

proptest! {
    #[test]
    fn provision_group_lists_round_trip(
        groups in prop::collection::vec(
            (text(), prop::option::of(text()),
             prop::collection::vec((name(), text(), any::<bool>()), 0..6)),
            0..4)
    ) {
        let l = ProvisionGroupList {
            groups: groups.into_iter().map(|(n, o, items)| ProvisionGroup {
                name: n, opaque: o,
                items: items.into_iter().map(|(n, v, p)| if p {
                    Item::Property { name: n, value: v }
                } else {
                    Item::Element { name: n, value: v }
                }).collect(),
            }).collect(),
        };
        let once = ProvisionGroupList::parse(l.emit().as_bytes()).unwrap();
        let twice = ProvisionGroupList::parse(once.emit().as_bytes()).unwrap();
        prop_assert_eq!(&once, &twice);
        // Values come back trimmed; everything else as given (canonical order).
        let mut want = l.canonical();
        for g in &mut want.groups {
            for i in &mut g.items {
                match i {
                    Item::Element { value, .. } | Item::Property { value, .. } => {
                        *value = value.trim().to_string()
                    }
                }
            }
        }
        prop_assert_eq!(once, want);
    }

    #[test]
    fn publish_round_trips(uri in text(), pubs in prop::collection::vec(
        (name(), any::<u32>(), any::<u32>(), any::<u32>(), name(),
         prop::option::of(name()), prop::option::of(any::<u32>()), prop::option::of(any::<bool>())), 0..5)) {
        let p = Publish { uri, publications: pubs.into_iter().map(|(c, i, k, v, e, t, a, m)| Publication {
            category: c, instance: i, container: k, version: v, expire_type: e,
            state_type: t, availability: a, manual: m }).collect() };
        prop_assert_eq!(Publish::parse(p.emit().as_bytes()).unwrap(), p);
    }

    #[test]
    fn location_profiles_round_trip(n in text(), rules in prop::collection::vec(
        (text(), text(), prop::option::of(any::<bool>()), prop::option::of(any::<bool>())), 0..5),
        prefix in prop::option::of(text()), opt in prop::option::of(any::<bool>())) {
        let p = LocationProfile {
            name: n.trim().to_string(),
            rules: rules.into_iter().map(|(pa, tr, a, b)| {
                let mut r = Rule::new(pa.trim(), tr.trim());
                r.internal_extension = a;
                r.device_dialing = b;
                r
            }).collect(),
            external_access_prefix: prefix.map(|s| s.trim().to_string()),
            optimize_device_dialing: opt,
        };
        prop_assert_eq!(LocationProfile::parse(p.emit().as_bytes()).unwrap(), p);
    }

    #[test]
    fn roaming_data_round_trips(uri in prop::option::of(text()), cats in prop::collection::vec(
        (text(), any::<u32>(), prop::option::of(any::<u32>()), any::<u32>(),
         prop::option::of(text()), prop::option::of(text()), prop::option::of(name()),
         prop::option::of(any::<u32>()),
         prop::option::of((prop::option::of(any::<u32>()), prop::option::of(any::<u32>())))), 0..5)) {
        let d = RoamingData { uri, categories: cats.into_iter().map(|(n, i, c, v, p, e, t, a, vm)| RoamingCategory {
            name: n, instance: i, container: c, version: v, publish_time: p, expire_type: e,
            state_type: t, availability: a,
            voicemail: vm.filter(|(u, r)| u.is_some() || r.is_some())
                .map(|(unread, read)| VoicemailTokens { unread, read }),
        }).collect() };
        let e = d.emit();
        let back = RoamingData::parse(e.as_bytes()).unwrap();
        prop_assert_eq!(&back, &d);
        prop_assert_eq!(back.emit(), e);
    }

    #[test]
    fn arbitrary_bodies_fail_cleanly(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ProvisionGroupList::parse(&b);
        let _ = LocationProfile::parse(&b);
        let _ = Publish::parse(&b);
        let _ = RoamingData::parse(&b);
        let _ = roaming::parse_request(&b);
    }
}

/// The self subscription is refreshed before it expires (RFC 6665 4.1.2.1): at 90 % of the
/// granted 47,515 s ([MS-PRES] 4.4.3) a signed SUBSCRIBE goes out in the subscription's
/// dialog (same Call-ID and tags, next CSeq); the double keeps one subscription and its
/// BENOTIFYs still verify. A refresh refused with 481 makes a new subscription.
#[test]
fn self_subscription_is_refreshed_before_it_expires() {
    let t0 = Instant::now();
    let mut s = server();
    s.set_roaming_self(ROAMING_SELF).unwrap();
    let mut reg = signed_in(&mut s, t0);
    let mut svc = services(13);
    svc.start(t0, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, t0);
    let first_sub = server_events(&mut s)
        .into_iter()
        .filter(|e| matches!(e, ServerEvent::RoamingSelfSubscribed { .. }))
        .count();
    assert_eq!(first_sub, 1);
    let refresh_at = t0 + Duration::from_secs(47515) * 9 / 10;
    assert_eq!(svc.self_refresh_at(), Some(refresh_at));
    // In DND no presence timer runs: the refresh is the next thing to do.
    svc.set_dnd(t0, true, reg.sa_mut().unwrap());
    pump(&mut svc, &mut reg, &mut s, t0);
    assert_eq!(svc.poll_timeout(), Some(refresh_at));
    svc.handle_timeout(refresh_at - Duration::from_secs(1), reg.sa_mut().unwrap());
    assert!(svc.poll_request().is_none(), "not before its time");

    svc.handle_timeout(refresh_at, reg.sa_mut().unwrap());
    let req = svc.poll_request().expect("the refresh");
    let m = Message::parse(&req).unwrap();
    assert_eq!(m.method(), Some(Method::Subscribe));
    assert_eq!(m.first(HeaderName::Event), Some(roaming::EVENT));
    assert_eq!(m.cseq().unwrap().seq, 2);
    // The dialog of the first SUBSCRIBE: its Call-ID, our tag, the double's To tag.
    let to = m.first(HeaderName::To).unwrap();
    assert!(to.contains(";tag=0858513FA91D3AAE1A5840DDB99599DF"), "{to}");
    assert!(
        m.first(HeaderName::Authorization).is_some()
            || m.first(HeaderName::ProxyAuthorization).is_some()
    );
    let resp = s.handle(&req).expect("answered");
    assert_eq!(Message::parse(&resp).unwrap().status(), Some(200));
    svc.handle_response(refresh_at, &resp, reg.sa_mut().unwrap());
    assert!(events(&mut svc)
        .iter()
        .all(|e| !matches!(e, ServicesEvent::Failed { .. })));
    assert_eq!(
        svc.self_refresh_at(),
        Some(refresh_at + Duration::from_secs(47515) * 9 / 10)
    );
    assert!(server_events(&mut s)
        .iter()
        .any(|e| matches!(e, ServerEvent::RoamingSelfSubscribed { .. })));
    // Still one subscription at the double, whose BENOTIFY the phone takes.
    let notes = s.set_voicemail(VoicemailCounts { unread: 4, read: 5 });
    assert_eq!(
        notes.len(),
        1,
        "the refresh did not add a second subscription"
    );
    assert_eq!(
        svc.handle_request(refresh_at, &notes[0], reg.sa_mut().unwrap()),
        None
    );
    assert_eq!(
        svc.voicemail(),
        Some(VoicemailCounts { unread: 4, read: 5 })
    );
    assert_eq!(
        events(&mut svc),
        [ServicesEvent::Voicemail(VoicemailCounts {
            unread: 4,
            read: 5
        })]
    );

    // The next refresh is refused with 481 (the server lost the subscription): the phone
    // subscribes anew (new Call-ID, CSeq 1).
    let t2 = svc.self_refresh_at().unwrap();
    svc.handle_timeout(t2, reg.sa_mut().unwrap());
    let req = svc.poll_request().expect("second refresh");
    let m = Message::parse(&req).unwrap();
    assert_eq!(m.cseq().unwrap().seq, 3);
    let old_cid = m.call_id().unwrap().to_string();
    let r481 = response_to(&m, 481, Some("x")).to_bytes();
    svc.handle_response(t2, &r481, reg.sa_mut().unwrap());
    assert!(matches!(
        events(&mut svc)[..],
        [ServicesEvent::Failed {
            what: "roaming self",
            code: 481,
            ..
        }]
    ));
    let again = svc.poll_request().expect("a new subscription");
    let m = Message::parse(&again).unwrap();
    assert_eq!(m.cseq().unwrap().seq, 1);
    assert_ne!(m.call_id().unwrap(), old_cid);
    assert!(!m.first(HeaderName::To).unwrap().contains("tag="));
    assert_eq!(svc.self_refresh_at(), None, "until the new 200");
    let resp = s.handle(&again).expect("answered");
    svc.handle_response(t2, &resp, reg.sa_mut().unwrap());
    assert_eq!(
        svc.self_refresh_at(),
        Some(t2 + Duration::from_secs(47515) * 9 / 10)
    );
}
