//! The typed parameter schema, generated from `schema/params.toml` by `build.rs`.
//!
//! A [`ParamDef`] describes one parameter or a family of indexed parameters
//! (`voip/codec/codec_info/{i}/name`, `i` in 0..=4). [`Schema::lookup`] resolves a concrete key
//! such as `voip/codec/codec_info/3/name` to its definition and indices for a model.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::{Model, ModelSet};

/// The value type of a parameter (see `schema/FORMAT.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Bool,
    Int,
    Enum,
    String,
    Password,
    Ip,
    Host,
    Url,
    Time,
    List,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Bool => "bool",
            ParamType::Int => "int",
            ParamType::Enum => "enum",
            ParamType::String => "string",
            ParamType::Password => "password",
            ParamType::Ip => "ip",
            ParamType::Host => "host",
            ParamType::Url => "url",
            ParamType::Time => "time",
            ParamType::List => "list",
        }
    }
}

/// One `/`-separated segment of a parameter path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    Lit(&'static str),
    /// An index placeholder with its inclusive range.
    Index {
        lo: u32,
        hi: u32,
    },
}

/// A per-model difference of default or range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelOverride {
    pub model: Model,
    pub default: Option<&'static str>,
    pub min: Option<i64>,
    pub max: Option<i64>,
}

/// One parameter (or indexed family) of the manual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamDef {
    /// The path with `{i}` / `{j}` for indexed segments.
    pub key: &'static str,
    pub segments: &'static [Seg],
    pub ty: ParamType,
    pub default: &'static str,
    /// Defaults that differ per value of the first index.
    pub index_defaults: &'static [(u32, &'static str)],
    /// Allowed values of an enum.
    pub values: &'static [&'static str],
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_len: Option<u32>,
    pub models: ModelSet,
    pub per_model: &'static [ModelOverride],
    /// Manual section.
    pub section: &'static str,
    pub desc: &'static str,
    /// How an ambiguity of the manual was resolved.
    pub note: Option<&'static str>,
}

/// Up to four index values of a concrete key (the schema uses at most two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Indices {
    vals: [u32; 4],
    len: u8,
}

impl Indices {
    pub fn as_slice(&self) -> &[u32] {
        &self.vals[..self.len as usize]
    }

    fn push(&mut self, v: u32) -> bool {
        if (self.len as usize) < self.vals.len() {
            self.vals[self.len as usize] = v;
            self.len += 1;
            true
        } else {
            false
        }
    }

    pub fn from_slice(v: &[u32]) -> Indices {
        let mut i = Indices::default();
        for &x in v {
            i.push(x);
        }
        i
    }
}

impl ParamDef {
    pub fn applies_to(&self, model: Model) -> bool {
        self.models.contains(model)
    }

    fn override_for(&self, model: Option<Model>) -> Option<&'static ModelOverride> {
        let m = model?;
        self.per_model.iter().find(|o| o.model == m)
    }

    /// The factory value of this parameter for a model (or, with `None`, the generic one) at
    /// the given indices.
    pub fn default_for(&self, model: Option<Model>, indices: &[u32]) -> &'static str {
        if let Some(d) = self.override_for(model).and_then(|o| o.default) {
            return d;
        }
        if let Some(first) = indices.first() {
            if let Some((_, d)) = self.index_defaults.iter().find(|(i, _)| i == first) {
                return d;
            }
        }
        self.default
    }

    /// The inclusive integer range for a model.
    pub fn range_for(&self, model: Option<Model>) -> (Option<i64>, Option<i64>) {
        let o = self.override_for(model);
        (
            o.and_then(|o| o.min).or(self.min),
            o.and_then(|o| o.max).or(self.max),
        )
    }

    /// The index ranges of the placeholders, in order.
    pub fn index_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Seg::Index { lo, hi } => Some((*lo, *hi)),
            Seg::Lit(_) => None,
        })
    }

    /// The concrete key for the given indices.
    pub fn concrete_key(&self, indices: &[u32]) -> String {
        let mut out = String::with_capacity(self.key.len() + 4);
        let mut it = indices.iter();
        for (n, s) in self.segments.iter().enumerate() {
            if n > 0 {
                out.push('/');
            }
            match s {
                Seg::Lit(l) => out.push_str(l),
                Seg::Index { lo, .. } => out.push_str(&it.next().unwrap_or(lo).to_string()),
            }
        }
        out
    }

    /// Every concrete key of the family with its indices, in index order.
    pub fn expand(&self) -> Vec<(String, Indices)> {
        let ranges: Vec<(u32, u32)> = self.index_ranges().collect();
        let mut out = Vec::new();
        let mut cur: Vec<u32> = ranges.iter().map(|r| r.0).collect();
        loop {
            out.push((self.concrete_key(&cur), Indices::from_slice(&cur)));
            // Odometer increment, last placeholder fastest.
            let mut pos = ranges.len();
            loop {
                if pos == 0 {
                    return out;
                }
                pos -= 1;
                if cur[pos] < ranges[pos].1 {
                    cur[pos] += 1;
                    for (c, r) in cur.iter_mut().zip(&ranges).skip(pos + 1) {
                        *c = r.0;
                    }
                    break;
                }
            }
        }
    }

    /// Number of concrete keys in the family.
    pub fn concrete_count(&self) -> usize {
        self.index_ranges()
            .map(|(lo, hi)| (hi - lo + 1) as usize)
            .product()
    }

    fn shape(&self) -> String {
        let mut out = String::with_capacity(self.key.len());
        for (n, s) in self.segments.iter().enumerate() {
            if n > 0 {
                out.push('/');
            }
            match s {
                Seg::Lit(l) if !is_number(l) => out.push_str(l),
                _ => out.push('#'),
            }
        }
        out
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

include!(concat!(env!("OUT_DIR"), "/schema_table.rs"));

/// What a concrete key is, for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A parameter of this model.
    Found(&'static ParamDef, Indices),
    /// A parameter, but not of this model; the definition shows the models it has.
    WrongModel(&'static ParamDef, Indices),
    /// A family of parameters exists, but not with this index (for this model).
    IndexOutOfRange(&'static ParamDef),
    /// Not a parameter of the manual.
    Unknown,
}

/// FNV-1a: the keys hashed here are short, trusted-length strings from one file, and SipHash's
/// flood resistance is not needed for a lookup table whose keys are fixed by the schema.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// The parameter table with its lookup indexes.
pub struct Schema {
    params: &'static [ParamDef],
    /// Every concrete key with the definitions (one per model group) it belongs to.
    concrete: FastMap<Box<str>, Vec<(&'static ParamDef, Indices)>>,
    /// Definitions by key shape (numeric segments as `#`), for out-of-range indices.
    by_shape: FastMap<String, Vec<&'static ParamDef>>,
}

impl Schema {
    /// The schema of the 400HD series.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut by_shape: FastMap<String, Vec<&'static ParamDef>> = FastMap::default();
            let mut concrete: FastMap<Box<str>, Vec<(&'static ParamDef, Indices)>> =
                FastMap::default();
            for p in PARAMS {
                by_shape.entry(p.shape()).or_default().push(p);
                for (key, idx) in p.expand() {
                    concrete
                        .entry(key.into_boxed_str())
                        .or_default()
                        .push((p, idx));
                }
            }
            Schema {
                params: PARAMS,
                concrete,
                by_shape,
            }
        })
    }

    /// Every definition, in manual order.
    pub fn params(&self) -> &'static [ParamDef] {
        self.params
    }

    /// The definitions that apply to a model.
    pub fn params_for(&self, model: Model) -> impl Iterator<Item = &'static ParamDef> {
        self.params.iter().filter(move |p| p.applies_to(model))
    }

    /// The definition of a key pattern as written in the table (`.../{i}/name`).
    pub fn by_pattern<'p>(&self, pattern: &'p str) -> impl Iterator<Item = &'static ParamDef> + 'p {
        self.params.iter().filter(move |p| p.key == pattern)
    }

    /// Resolves a concrete key for a model (`None`: any model).
    pub fn lookup(&self, key: &str, model: Option<Model>) -> Lookup {
        if let Some(defs) = self.concrete.get(key) {
            let hit = defs
                .iter()
                .find(|(d, _)| model.is_none_or(|m| d.applies_to(m)));
            return match (hit, defs.first()) {
                (Some(&(d, i)), _) => Lookup::Found(d, i),
                (None, Some(&(d, i))) => Lookup::WrongModel(d, i),
                (None, None) => Lookup::Unknown,
            };
        }
        let mut shape = String::with_capacity(key.len());
        for (n, seg) in key.split('/').enumerate() {
            if n > 0 {
                shape.push('/');
            }
            if is_number(seg) {
                shape.push('#');
            } else {
                shape.push_str(seg);
            }
        }
        let Some(cands) = self.by_shape.get(&shape) else {
            return Lookup::Unknown;
        };
        let mut wrong_model = None;
        for &def in cands {
            let Some(idx) = match_indices(def, key) else {
                continue;
            };
            match model {
                Some(m) if !def.applies_to(m) => {
                    wrong_model.get_or_insert((def, idx));
                }
                _ => return Lookup::Found(def, idx),
            }
        }
        if let Some((def, idx)) = wrong_model {
            return Lookup::WrongModel(def, idx);
        }
        let best = cands
            .iter()
            .find(|d| model.is_none_or(|m| d.applies_to(m)))
            .or_else(|| cands.first());
        match best {
            Some(d) => Lookup::IndexOutOfRange(d),
            None => Lookup::Unknown,
        }
    }

    /// The known key pattern closest to an unknown key, for "did you mean" hints.
    pub fn suggest(&self, key: &str) -> Option<&'static str> {
        let mut best: Option<(usize, &'static str)> = None;
        for p in self.params {
            let cand = p.concrete_key(&[]);
            let d = edit_distance(key, &cand);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, p.key));
            }
        }
        best.filter(|(d, _)| *d <= (key.len() / 4).max(2))
            .map(|(_, k)| k)
    }
}

/// The indices of `key` if it matches `def` segment by segment (same shape assumed).
fn match_indices(def: &ParamDef, key: &str) -> Option<Indices> {
    let mut idx = Indices::default();
    for (seg, part) in def.segments.iter().zip(key.split('/')) {
        match seg {
            Seg::Lit(l) => {
                if *l != part {
                    return None;
                }
            }
            Seg::Index { lo, hi } => {
                // Canonical decimal only: `07` is not index 7.
                if part.len() > 1 && part.starts_with('0') {
                    return None;
                }
                let v: u32 = part.parse().ok()?;
                if v < *lo || v > *hi {
                    return None;
                }
                idx.push(v);
            }
        }
    }
    Some(idx)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a.len().abs_diff(b.len()) > 8 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_not_empty_and_lookups_resolve() {
        let s = Schema::get();
        assert!(!s.params().is_empty());
        for p in s.params() {
            for (key, idx) in p.expand() {
                let found = p.models.iter().all(|m| {
                    matches!(s.lookup(&key, Some(m)), Lookup::Found(d, i) if std::ptr::eq(d, p) && i == idx)
                });
                assert!(found, "{key} does not resolve to its own definition");
            }
        }
    }

    #[test]
    fn unknown_and_out_of_range() {
        let s = Schema::get();
        assert_eq!(s.lookup("no/such/key", None), Lookup::Unknown);
        assert!(matches!(
            s.lookup("voip/codec/codec_info/99/name", None),
            Lookup::IndexOutOfRange(_)
        ));
        assert!(matches!(
            s.lookup("voip/codec/codec_info/01/name", None),
            Lookup::IndexOutOfRange(_)
        ));
        assert!(matches!(
            s.lookup("voip/codec/codec_info/99999999999999999999/name", None),
            Lookup::IndexOutOfRange(_)
        ));
    }

    #[test]
    fn suggestions() {
        let s = Schema::get();
        assert_eq!(s.suggest("network/lan_typ"), Some("network/lan_type"));
        assert_eq!(s.suggest("completely/unrelated/thing/here"), None);
    }

    #[test]
    fn expansion_counts() {
        for p in Schema::get().params() {
            assert_eq!(p.expand().len(), p.concrete_count(), "{}", p.key);
        }
    }
}
