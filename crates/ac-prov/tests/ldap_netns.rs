//! Corporate directory against slapd (mdb backend, a test directory loaded with slapadd) in
//! the server namespace; searches run from the phone namespace through ldap3.
//! Needs root and slapd.

mod common;

use ac_cfg::{Config, Model};
use ac_prov::driver::ldap::{Directory, DirectoryError};
use ac_prov::ldap::LdapSettings;
use ac_prov::t9;
use common::{in_ns, must, Net};

const PORT: u16 = 3389;

const LDIF: &str = "\
dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: uid=mblack,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: mblack
cn: Mike Black
sn: Black
givenName: Mike
telephoneNumber: 2001
mobile: +12125550101

dn: uid=bjensen,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bjensen
cn: Babs Jensen
sn: Jensen
givenName: Babs
telephoneNumber: 2002

dn: uid=bblanc,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bblanc
cn: Barbara Blanc
sn: Blanc
givenName: Barbara
telephoneNumber: 12125551234

dn: uid=ablair,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: ablair
cn: Anne Blair
sn: Blair
givenName: Anne
telephoneNumber: 2004

dn: uid=thowes,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: thowes
cn: Tim Howes
sn: Blazer
givenName: Tim

dn: uid=jmuller,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: jmuller
cn:: SsO8cmdlbiBNw7xsbGVy
sn:: TcO8bGxlcg==
givenName:: SsO8cmdlbg==
telephoneNumber: 2005
";

fn start_slapd(net: &mut Net) {
    let d = net.dir.path().to_path_buf();
    std::fs::create_dir_all(d.join("db")).expect("db dir");
    let conf = format!(
        "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
         modulepath /usr/lib/ldap\nmoduleload back_mdb\ndatabase mdb\nmaxsize 10485760\n\
         suffix \"dc=example,dc=com\"\nrootdn \"cn=admin,dc=example,dc=com\"\nrootpw secret\n\
         directory {d}/db\nindex objectClass eq\n",
        d = d.display()
    );
    std::fs::write(d.join("slapd.conf"), conf).expect("conf");
    std::fs::write(d.join("data.ldif"), LDIF).expect("ldif");
    let c = d.join("slapd.conf");
    let l = d.join("data.ldif");
    must(
        "slapadd",
        &[
            "-q",
            "-f",
            c.to_str().expect("p"),
            "-l",
            l.to_str().expect("p"),
        ],
    );
    let url = format!("ldap://{}:{PORT}/", net.server_ip());
    net.spawn_named(
        "slapd",
        &[
            "slapd",
            "-d",
            "256",
            "-h",
            &url,
            "-f",
            c.to_str().expect("p"),
        ],
    );
    net.wait_tcp(PORT);
}

fn config(net: &Net) -> Config {
    let mut c = Config::defaults(Model::Hd420);
    for (k, v) in [
        ("system/ldap/enabled", "1"),
        ("system/ldap/server_address", net.server_ip().as_str()),
        ("system/ldap/port", "3389"),
        ("system/ldap/user_name", "cn=admin,dc=example,dc=com"),
        ("system/ldap/password", "secret"),
        ("system/ldap/base", "ou=people,dc=example,dc=com"),
        (
            "system/ldap/name_filter",
            "(&(telephoneNumber=*)(|(sn=%)(cn=%)))",
        ),
        ("system/ldap/name_attrs", "cn sn"),
        (
            "system/ldap/number_filter",
            "(|(telephoneNumber=%)(mobile=%))",
        ),
        ("system/ldap/number_attrs", "telephoneNumber mobile"),
        ("system/ldap/display_name", "%sn, %givenName"),
        ("system/ldap/sorting_result", "1"),
        ("system/ldap/call_lookup", "1"),
        ("system/ldap/country_code", "1"),
        ("system/ldap/area_code", "212"),
    ] {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    c
}

fn in_phone<T: Send + 'static>(net: &Net, f: impl FnOnce() -> T + Send + 'static) -> T {
    in_ns(&net.phone_ns, f)
}

fn setup() -> Net {
    let mut net = Net::new();
    net.exec_ok(
        &net.phone_ns,
        &[
            "ip",
            "addr",
            "add",
            &format!("10.77.{}.20/24", net.subnet),
            "dev",
            &net.phone_if,
        ],
    );
    start_slapd(&mut net);
    net
}

#[test]
fn name_and_number_searches_and_caller_lookup() {
    let net = setup();
    let dir = Directory::new(LdapSettings::from_config(&config(&net)));
    let d = dir.clone();
    let (names, short, number, prefixed, caller, unknown, t9) = in_phone(&net, move || {
        let names = d
            .search_names("Bla")
            .expect("name search")
            .expect("long enough");
        let short = d.search_names("Bl").expect("name search");
        let number = d.search_number("2002").expect("number search");
        let prefixed = d.search_number("5551234").expect("number search");
        let caller = d.lookup_caller("+12125550101").expect("lookup");
        let unknown = d.lookup_caller("9999").expect("lookup");
        // T9 over what the directory returned: 5-3-6 = "Jen".
        let all = d.search("(objectClass=inetOrgPerson)").expect("all");
        let contacts: Vec<ac_cfg::companion::Contact> = all
            .iter()
            .map(|e| ac_cfg::companion::Contact {
                name: e.display.clone(),
                office: e.numbers.first().map(|n| n.1.clone()).unwrap_or_default(),
                home: String::new(),
                mobile: String::new(),
            })
            .collect();
        let t9: Vec<String> = t9::search(&contacts, "685")
            .into_iter()
            .map(|c| c.name.clone())
            .collect();
        (names, short, number, prefixed, caller, unknown, t9)
    });
    // "Blazer" has no telephoneNumber: the name filter excludes it; sorted by display.
    let shown: Vec<&str> = names.iter().map(|e| e.display.as_str()).collect();
    assert_eq!(shown, ["Black, Mike", "Blair, Anne", "Blanc, Barbara"]);
    assert_eq!(
        names[0].numbers,
        [
            ("telephoneNumber".to_string(), "2001".to_string()),
            ("mobile".to_string(), "+12125550101".to_string())
        ]
    );
    assert_eq!(short, None, "below minimal_name_search_length (3)");
    assert_eq!(number.len(), 1);
    assert_eq!(number[0].display, "Jensen, Babs");
    assert_eq!(number[0].dn, "uid=bjensen,ou=people,dc=example,dc=com");
    // 5551234 found as 1 212 5551234 (country and area code prefixes).
    assert_eq!(
        prefixed
            .iter()
            .map(|e| e.display.as_str())
            .collect::<Vec<_>>(),
        ["Blanc, Barbara"]
    );
    assert_eq!(caller.as_deref(), Some("Black, Mike"));
    assert_eq!(unknown, None);
    assert_eq!(t9, ["Müller, Jürgen"]);
}

#[test]
fn max_hits_wrong_password_and_bad_template() {
    let net = setup();
    let mut cfg = config(&net);
    cfg.set("system/ldap/max_hits", "2").expect("set");
    cfg.set("system/ldap/minimal_name_search_length", "1")
        .expect("set");
    let limited = Directory::new(LdapSettings::from_config(&cfg));
    cfg.set("system/ldap/password", "wrong").expect("set");
    let bad_pw = Directory::new(LdapSettings::from_config(&cfg));
    let mut bad_tpl = Directory::new(LdapSettings::from_config(&config(&net)));
    bad_tpl.settings.name_filter = "(sn=%".into();
    let (hits, pw, tpl) = in_phone(&net, move || {
        (
            limited
                .search_names("B")
                .expect("search")
                .expect("long enough"),
            bad_pw.search_names("Bla"),
            bad_tpl.search_names("Bla"),
        )
    });
    // Four entries match "B" with a number (Black, Blair, Blanc, Babs Jensen): the server
    // stops at two (sizeLimitExceeded) and those are returned.
    assert_eq!(hits.len(), 2, "{hits:?}");
    match pw {
        Err(DirectoryError::Result {
            op: "bind", rc: 49, ..
        }) => {}
        r => panic!("wrong password: {r:?}"),
    }
    assert!(matches!(tpl, Err(DirectoryError::Filter(_))), "{tpl:?}");
    assert!(net.server_log("slapd.log").contains("SRCH"));
}
