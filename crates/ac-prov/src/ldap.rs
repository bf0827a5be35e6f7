//! Corporate directory over LDAP (manual 3.5.3, table 3-47), the pure part: settings, the
//! name/number filter templates (`%` replaced by the escaped input, RFC 4515 3), an RFC 4515
//! filter parser/emitter that checks what the templates produce, the display-name format
//! (`%sn, %givenName`), the country/area code variants of a number, sorting. The search
//! itself runs in [`crate::driver::ldap`] (ldap3).

use ac_cfg::Config;

use crate::vlan::schema_default;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    #[error("filter: {0} at byte {1}")]
    Filter(&'static str, usize),
    #[error("filter template {0:?} has no '%'")]
    NoPlaceholder(String),
    #[error("filter nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Nesting limit of parsed filters (no stack exhaustion on hostile input).
pub const MAX_DEPTH: usize = 32;
/// Longest filter accepted.
pub const MAX_FILTER: usize = 4096;

/// RFC 4515 3: escapes `*`, `(`, `)`, `\` and NUL in an assertion value (as `\XX`).
pub fn escape_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => s.push_str("\\2a"),
            '(' => s.push_str("\\28"),
            ')' => s.push_str("\\29"),
            '\\' => s.push_str("\\5c"),
            '\0' => s.push_str("\\00"),
            c => s.push(c),
        }
    }
    s
}

/// Replaces every `%` of a filter template by the escaped input; with `prefix` the input is
/// followed by `*` (names: "starting with the entered prefix", table 3-47).
pub fn expand_template(template: &str, input: &str, prefix: bool) -> Result<String, LdapError> {
    if !template.contains('%') {
        return Err(LdapError::NoPlaceholder(template.to_string()));
    }
    let mut v = escape_value(input);
    if prefix {
        v.push('*');
    }
    let f = template.replace('%', &v);
    // Only what parses as a filter is sent.
    Filter::parse(&f)?;
    Ok(f)
}

/// A parsed search filter (RFC 4515 2/3). Values are raw octets (escapes decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equality(String, Vec<u8>),
    Approx(String, Vec<u8>),
    GreaterOrEqual(String, Vec<u8>),
    LessOrEqual(String, Vec<u8>),
    Present(String),
    Substrings {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        last: Option<Vec<u8>>,
    },
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

fn attr_ok(a: &str) -> bool {
    // RFC 4512 1.4 descr (keystring) or numericoid, with options (;lang-en).
    let (base, opts) = a.split_once(';').unwrap_or((a, ""));
    let keystring = base.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && base.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    let oid = !base.is_empty()
        && base
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    (keystring || oid)
        && (opts.is_empty()
            || opts.split(';').all(|o| {
                !o.is_empty() && o.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            }))
}

impl<'a> P<'a> {
    fn err<T>(&self, m: &'static str) -> Result<T, LdapError> {
        Err(LdapError::Filter(m, self.i))
    }

    fn eat(&mut self, c: u8) -> Result<(), LdapError> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            self.err("unexpected character")
        }
    }

    fn filter(&mut self, depth: usize) -> Result<Filter, LdapError> {
        if depth > MAX_DEPTH {
            return Err(LdapError::TooDeep);
        }
        self.eat(b'(')?;
        let f = match self.b.get(self.i) {
            Some(b'&') => {
                self.i += 1;
                Filter::And(self.list(depth)?)
            }
            Some(b'|') => {
                self.i += 1;
                Filter::Or(self.list(depth)?)
            }
            Some(b'!') => {
                self.i += 1;
                Filter::Not(Box::new(self.filter(depth + 1)?))
            }
            _ => self.item()?,
        };
        self.eat(b')')?;
        Ok(f)
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Filter>, LdapError> {
        let mut v = Vec::new();
        while self.b.get(self.i) == Some(&b'(') {
            v.push(self.filter(depth + 1)?);
        }
        if v.is_empty() {
            return self.err("empty filter list");
        }
        Ok(v)
    }

    fn item(&mut self) -> Result<Filter, LdapError> {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| !matches!(c, b'=' | b'~' | b'>' | b'<' | b'(' | b')' | b':'))
        {
            self.i += 1;
        }
        let attr = std::str::from_utf8(&self.b[start..self.i])
            .ok()
            .filter(|a| attr_ok(a))
            .map(str::to_string);
        let Some(attr) = attr else {
            return self.err("bad attribute description");
        };
        let op = match self.b.get(self.i..self.i + 2) {
            Some(b"~=") => 1,
            Some(b">=") => 2,
            Some(b"<=") => 3,
            _ if self.b.get(self.i) == Some(&b'=') => 0,
            _ => return self.err("expected =, ~=, >= or <= (extensible match unsupported)"),
        };
        self.i += if op == 0 { 1 } else { 2 };
        // The value runs to the closing parenthesis; split on unescaped '*'.
        let mut parts: Vec<Vec<u8>> = vec![Vec::new()];
        loop {
            match self.b.get(self.i) {
                None => return self.err("unterminated filter"),
                Some(b')') => break,
                Some(b'(') => return self.err("'(' must be escaped in a value"),
                Some(b'*') => {
                    parts.push(Vec::new());
                    self.i += 1;
                }
                Some(b'\\') => {
                    let h = self
                        .b
                        .get(self.i + 1..self.i + 3)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    let Some(v) = h else {
                        return self.err("bad escape");
                    };
                    if let Some(last) = parts.last_mut() {
                        last.push(v);
                    }
                    self.i += 3;
                }
                Some(&c) => {
                    if c == 0 {
                        return self.err("NUL in value");
                    }
                    if let Some(last) = parts.last_mut() {
                        last.push(c);
                    }
                    self.i += 1;
                }
            }
        }
        if parts.len() == 1 {
            let v = parts.pop().unwrap_or_default();
            return Ok(match op {
                0 => Filter::Equality(attr, v),
                1 => Filter::Approx(attr, v),
                2 => Filter::GreaterOrEqual(attr, v),
                _ => Filter::LessOrEqual(attr, v),
            });
        }
        if op != 0 {
            return self.err("'*' only with =");
        }
        if parts.len() == 2 && parts[0].is_empty() && parts[1].is_empty() {
            return Ok(Filter::Present(attr));
        }
        let n = parts.len();
        let last = parts.pop().filter(|l| !l.is_empty());
        let mut it = parts.into_iter();
        let initial = it.next().filter(|f| !f.is_empty());
        let any: Vec<Vec<u8>> = it.collect();
        // RFC 4515 3: `any` pieces are non-empty (no "**").
        if any.iter().any(Vec::is_empty) || n < 2 {
            return self.err("empty substring between '*'");
        }
        Ok(Filter::Substrings {
            attr,
            initial,
            any,
            last,
        })
    }
}

fn esc_bytes(v: &[u8], out: &mut String) {
    // RFC 4515 3: only NUL, '(', ')', '*' and '\' MUST be escaped in a value; other valid
    // UTF-8 stays as it is, and bytes that are not UTF-8 are escaped (the filter string
    // itself must be UTF-8). This keeps the emitted filter no longer than any text that
    // parses to it, so whatever parsed within MAX_FILTER re-parses after emit (the
    // `ldap_filter` fuzz target found that escaping every non-ASCII byte broke that).
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            if matches!(c, '\0' | '(' | ')' | '*' | '\\') {
                out.push_str(&format!("\\{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:02x}"));
        }
    }
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, LdapError> {
        if s.len() > MAX_FILTER {
            return Err(LdapError::Filter("filter too long", MAX_FILTER));
        }
        let mut p = P {
            b: s.as_bytes(),
            i: 0,
        };
        let f = p.filter(0)?;
        if p.i != s.len() {
            return p.err("trailing characters");
        }
        Ok(f)
    }

    /// The RFC 4515 string.
    pub fn emit(&self) -> String {
        let mut s = String::new();
        self.emit_into(&mut s);
        s
    }

    fn emit_into(&self, s: &mut String) {
        s.push('(');
        match self {
            Filter::And(v) | Filter::Or(v) => {
                s.push(if matches!(self, Filter::And(_)) {
                    '&'
                } else {
                    '|'
                });
                for f in v {
                    f.emit_into(s);
                }
            }
            Filter::Not(f) => {
                s.push('!');
                f.emit_into(s);
            }
            Filter::Equality(a, v)
            | Filter::Approx(a, v)
            | Filter::GreaterOrEqual(a, v)
            | Filter::LessOrEqual(a, v) => {
                s.push_str(a);
                s.push_str(match self {
                    Filter::Equality(..) => "=",
                    Filter::Approx(..) => "~=",
                    Filter::GreaterOrEqual(..) => ">=",
                    _ => "<=",
                });
                esc_bytes(v, s);
            }
            Filter::Present(a) => {
                s.push_str(a);
                s.push_str("=*");
            }
            Filter::Substrings {
                attr,
                initial,
                any,
                last,
            } => {
                s.push_str(attr);
                s.push('=');
                if let Some(i) = initial {
                    esc_bytes(i, s);
                }
                s.push('*');
                for a in any {
                    esc_bytes(a, s);
                    s.push('*');
                }
                if let Some(l) = last {
                    esc_bytes(l, s);
                }
            }
        }
        s.push(')');
    }
}

/// Table 3-47 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSettings {
    pub enabled: bool,
    pub server: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub base: String,
    pub name_filter: String,
    pub name_attrs: Vec<String>,
    pub number_filter: String,
    pub number_attrs: Vec<String>,
    pub display_name: String,
    pub max_hits: i32,
    pub sort: bool,
    pub search_timeout: i32,
    pub call_lookup: bool,
    pub country_code: String,
    pub area_code: String,
    pub min_name_len: usize,
}

impl LdapSettings {
    pub fn from_config(c: &Config) -> LdapSettings {
        let s = |k: &str| {
            c.get_str(k)
                .unwrap_or_else(|| schema_default(k))
                .to_string()
        };
        let b = |k: &str| c.get_bool(k).unwrap_or_else(|| schema_default(k) == "1");
        let i = |k: &str| {
            c.get_int(k)
                .or_else(|| schema_default(k).parse().ok())
                .unwrap_or(0)
        };
        let words = |k: &str| s(k).split_whitespace().map(str::to_string).collect();
        LdapSettings {
            enabled: b("system/ldap/enabled"),
            server: s("system/ldap/server_address"),
            port: i("system/ldap/port").clamp(1, 65535) as u16,
            user: s("system/ldap/user_name"),
            password: s("system/ldap/password"),
            base: s("system/ldap/base"),
            name_filter: s("system/ldap/name_filter"),
            name_attrs: words("system/ldap/name_attrs"),
            number_filter: s("system/ldap/number_filter"),
            number_attrs: words("system/ldap/number_attrs"),
            display_name: s("system/ldap/display_name"),
            max_hits: i("system/ldap/max_hits").clamp(0, i64::from(i32::MAX)) as i32,
            sort: b("system/ldap/sorting_result"),
            search_timeout: i("system/ldap/search_timeout").clamp(0, i64::from(i32::MAX)) as i32,
            call_lookup: b("system/ldap/call_lookup"),
            country_code: s("system/ldap/country_code"),
            area_code: s("system/ldap/area_code"),
            min_name_len: i("system/ldap/minimal_name_search_length").max(0) as usize,
        }
    }

    /// The attributes to request: name, number and those the display format names.
    pub fn attributes(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for a in self
            .name_attrs
            .iter()
            .chain(&self.number_attrs)
            .cloned()
            .chain(display_attrs(&self.display_name))
        {
            if !v.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                v.push(a);
            }
        }
        v
    }

    /// The filter of a name search, or `None` while the input is shorter than
    /// `minimal_name_search_length`.
    pub fn name_search(&self, input: &str) -> Result<Option<String>, LdapError> {
        if input.chars().count() < self.min_name_len {
            return Ok(None);
        }
        expand_template(&self.name_filter, input, true).map(Some)
    }

    /// The filter of a number search: the number as given, with the area code, and with
    /// country and area code (`country_code`/`area_code`, table 3-47), OR-ed.
    pub fn number_search(&self, number: &str) -> Result<String, LdapError> {
        let variants = number_variants(number, &self.country_code, &self.area_code);
        let parts: Result<Vec<String>, LdapError> = variants
            .iter()
            .map(|v| expand_template(&self.number_filter, v, false))
            .collect();
        let parts = parts?;
        if parts.len() == 1 {
            return Ok(parts.into_iter().next().unwrap_or_default());
        }
        let f = format!("(|{})", parts.concat());
        Filter::parse(&f)?;
        Ok(f)
    }
}

/// The number, then with the area code, then with country and area code (prefixes that
/// the number already starts with are not added again).
pub fn number_variants(number: &str, country: &str, area: &str) -> Vec<String> {
    let n = number.trim();
    let (country, area) = (country.trim(), area.trim());
    let mut v = vec![n.to_string()];
    let mut push = |s: String| {
        if !v.contains(&s) {
            v.push(s);
        }
    };
    if !area.is_empty() && !n.starts_with(area) {
        push(format!("{area}{n}"));
    }
    if !country.is_empty() && !n.starts_with(country) && !n.starts_with('+') {
        let with_area = if area.is_empty() || n.starts_with(area) {
            n.to_string()
        } else {
            format!("{area}{n}")
        };
        push(format!("{country}{with_area}"));
        push(format!("+{country}{with_area}"));
    }
    v
}

/// Attribute names in a display format (`%sn, %givenName` -> sn, givenName).
pub fn display_attrs(format: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = format.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let s = i + 1;
            let mut e = s;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'-') {
                e += 1;
            }
            if e > s {
                out.push(format[s..e].to_string());
            }
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// Formats a result: each `%attr` is replaced by the entry's first value of `attr` (empty
/// when it has none). `get` looks an attribute up case-insensitively.
pub fn format_display<'a>(format: &str, get: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::new();
    let b = format.as_bytes();
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let s = i + 1;
            let mut e = s;
            while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'-') {
                e += 1;
            }
            if e > s {
                out.push_str(&format[lit..i]);
                out.push_str(get(&format[s..e]).unwrap_or(""));
                lit = e;
            }
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    out.push_str(&format[lit..]);
    out.trim().to_string()
}

/// One directory result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub dn: String,
    pub display: String,
    /// (attribute, number) in the order of `number_attrs`.
    pub numbers: Vec<(String, String)>,
}

/// Client-side sort by display name (`system/ldap/sorting_result`), case-insensitive.
pub fn sort_entries(v: &mut [DirectoryEntry]) {
    v.sort_by(|a, b| {
        a.display
            .to_lowercase()
            .cmp(&b.display.to_lowercase())
            .then_with(|| a.dn.cmp(&b.dn))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `ldap_filter` fuzz target: a filter near MAX_FILTER whose value holds raw
    /// control characters must re-parse after emit (emit escapes only what RFC 4515 requires).
    #[test]
    fn emitted_filter_never_outgrows_its_source() {
        let src = format!(
            "(cn=a{}b\\2a\\ff\\c3\\a9)",
            "\u{18}".repeat(MAX_FILTER - 30)
        );
        let f = Filter::parse(&src).expect("parses");
        let e = f.emit();
        assert!(e.len() <= src.len(), "{} > {}", e.len(), src.len());
        assert_eq!(Filter::parse(&e).expect("re-parses"), f);
        assert!(e.ends_with("b\\2a\\ffé)"), "{}", &e[e.len() - 12..]);
    }

    #[test]
    fn manual_templates() {
        let f = expand_template("(&(telephoneNumber=*)(sn=%))", "Bla", true).unwrap();
        assert_eq!(f, "(&(telephoneNumber=*)(sn=Bla*))");
        assert_eq!(
            expand_template("(|(cn=%)(sn=%))", "a*(b)", true).unwrap(),
            "(|(cn=a\\2a\\28b\\29*)(sn=a\\2a\\28b\\29*))"
        );
        assert_eq!(
            expand_template("(|(telephoneNumber=%)(Mobile=%)(ipPhone=%))", "2001", false).unwrap(),
            "(|(telephoneNumber=2001)(Mobile=2001)(ipPhone=2001))"
        );
        assert!(matches!(
            Filter::parse("(!(cn=x*))").unwrap(),
            Filter::Not(f) if matches!(*f, Filter::Substrings { .. })
        ));
        assert!(expand_template("(cn=x)", "a", true).is_err());
        assert!(expand_template("(cn=%", "a", true).is_err());
    }

    #[test]
    fn filter_parse_emit() {
        for s in [
            "(cn=Babs Jensen)",
            "(!(cn=Tim Howes))",
            "(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))",
            "(o=univ*of*mich*)",
            "(seeAlso=)",
            "(cn=*\\2a*)",
            "(sn;lang-en>=K)",
            "(2.5.4.3~=x)",
            "(cn=*a)",
        ] {
            let f = Filter::parse(s).unwrap();
            assert_eq!(Filter::parse(&f.emit()).unwrap(), f, "{s}");
        }
        for bad in [
            "",
            "cn=x",
            "(cn=x",
            "(cn=x))",
            "(&)",
            "(cn=a**b)",
            "(cn>=a*)",
            "(=x)",
            "(cn=\\zz)",
            "(cn:dn:=x)",
            "(c(n=x)",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
        let deep = "(!".repeat(100) + "(a=b)" + &")".repeat(100);
        assert_eq!(Filter::parse(&deep), Err(LdapError::TooDeep));
    }

    #[test]
    fn display_and_numbers() {
        let get = |a: &str| match a {
            "sn" => Some("Black"),
            "givenName" => Some("Mike"),
            _ => None,
        };
        assert_eq!(format_display("%sn, %givenName", get), "Black, Mike");
        assert_eq!(
            format_display("%givenName %sn (%title)", get),
            "Mike Black ()"
        );
        assert_eq!(format_display("100% %sn", get), "100% Black");
        assert_eq!(display_attrs("%sn, %givenName"), ["sn", "givenName"]);
        assert_eq!(
            number_variants("5551234", "1", "212"),
            ["5551234", "2125551234", "12125551234", "+12125551234"]
        );
        assert_eq!(number_variants("2125551234", "", "212"), ["2125551234"]);
        assert_eq!(
            number_variants("+442071234567", "44", ""),
            ["+442071234567"]
        );
    }

    #[test]
    fn settings_from_config() {
        let mut c = Config::defaults(ac_cfg::Model::Hd420);
        c.set("system/ldap/name_filter", "(|(cn=%)(sn=%))").unwrap();
        c.set("system/ldap/name_attrs", "cn sn").unwrap();
        c.set("system/ldap/number_attrs", "telephoneNumber mobile")
            .unwrap();
        c.set("system/ldap/display_name", "%sn, %givenName")
            .unwrap();
        let s = LdapSettings::from_config(&c);
        assert_eq!(s.port, 389);
        assert_eq!(s.max_hits, 50);
        assert_eq!(
            s.attributes(),
            ["cn", "sn", "telephoneNumber", "mobile", "givenName"]
        );
        assert_eq!(s.name_search("Bl").unwrap(), None);
        assert_eq!(
            s.name_search("Bla").unwrap().unwrap(),
            "(|(cn=Bla*)(sn=Bla*))"
        );
    }
}
