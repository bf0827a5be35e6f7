//! Phone models of the 400HD series.

use std::fmt;
use std::str::FromStr;

/// A phone model. Its name in files, DHCP option 60/77 and the manual is `405HD` etc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    Hd405,
    Hd420,
    Hd430,
    Hd440,
    Hd450,
}

impl Model {
    /// Every model, in catalogue order.
    pub const ALL: [Model; 5] = [
        Model::Hd405,
        Model::Hd420,
        Model::Hd430,
        Model::Hd440,
        Model::Hd450,
    ];

    /// The model's name as the manual writes it (`"440HD"`).
    pub fn name(self) -> &'static str {
        match self {
            Model::Hd405 => "405HD",
            Model::Hd420 => "420HD",
            Model::Hd430 => "430HD",
            Model::Hd440 => "440HD",
            Model::Hd450 => "450HD",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown model name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phone model {0:?} (expected one of 405HD, 420HD, 430HD, 440HD, 450HD)")]
pub struct UnknownModel(pub String);

impl FromStr for Model {
    type Err = UnknownModel;

    /// Accepts `440HD`, `440hd` and `440`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let digits = t
            .strip_suffix("HD")
            .or_else(|| t.strip_suffix("hd"))
            .unwrap_or(t);
        match digits {
            "405" => Ok(Model::Hd405),
            "420" => Ok(Model::Hd420),
            "430" => Ok(Model::Hd430),
            "440" => Ok(Model::Hd440),
            "450" => Ok(Model::Hd450),
            _ => Err(UnknownModel(s.to_string())),
        }
    }
}

/// A set of models (a bit set).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ModelSet(u8);

impl ModelSet {
    /// Every model.
    pub const ALL: ModelSet = ModelSet(0b1_1111);
    /// No model.
    pub const EMPTY: ModelSet = ModelSet(0);

    /// Builds a set from its raw bits (bit n = `Model::ALL[n]`).
    pub const fn from_bits(bits: u8) -> ModelSet {
        ModelSet(bits & 0b1_1111)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, m: Model) -> bool {
        self.0 & m.bit() != 0
    }

    pub fn insert(&mut self, m: Model) {
        self.0 |= m.bit();
    }

    pub fn is_all(self) -> bool {
        self == ModelSet::ALL
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Model> {
        Model::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

impl FromIterator<Model> for ModelSet {
    fn from_iter<I: IntoIterator<Item = Model>>(iter: I) -> Self {
        let mut s = ModelSet::EMPTY;
        for m in iter {
            s.insert(m);
        }
        s
    }
}

impl fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ModelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all");
        }
        let mut first = true;
        for m in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            f.write_str(m.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>(), Ok(m));
            assert_eq!(m.name().to_lowercase().parse::<Model>(), Ok(m));
        }
        assert_eq!("440".parse::<Model>(), Ok(Model::Hd440));
        assert!("445HD".parse::<Model>().is_err());
    }

    #[test]
    fn sets() {
        let s: ModelSet = [Model::Hd430, Model::Hd440].into_iter().collect();
        assert!(s.contains(Model::Hd430) && !s.contains(Model::Hd450));
        assert_eq!(s.to_string(), "430HD, 440HD");
        assert_eq!(ModelSet::ALL.iter().count(), 5);
    }
}
