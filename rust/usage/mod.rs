//! Token usage read out of upstream responses, one file per wire dialect.
//!
//! A dialect file provides a function for a whole (non-streaming) response body and an
//! [`EventReader`] that the stream tap calls for each dispatched SSE event. Adding a dialect
//! means adding its file, a [`Dialect`] variant and one line in [`Dialect::reader`].

use memchr::memmem::Finder;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub mod openai_chat;

/// Token counts of one call, in the gateway's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached: u64,
    /// All output tokens, reasoning ones included.
    pub output: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
}

/// The wire dialects whose streams the tap can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAiChat,
}

impl Dialect {
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "openai_chat" => Some(Dialect::OpenAiChat),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "openai_chat",
        }
    }

    /// A fresh reader for one stream of this dialect.
    pub fn reader(self) -> Box<dyn EventReader> {
        match self {
            Dialect::OpenAiChat => Box::new(openai_chat::ChatReader::default()),
        }
    }
}

/// What the tap does with one dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Forward it now; `content` tells whether it carries model output (as opposed to
    /// bookkeeping such as a ping).
    Forward { content: bool },
    /// Hold back an event that only reports usage; its data is kept.
    WithholdUsage,
    /// Hold back the end-of-stream sentinel; its raw bytes are kept.
    WithholdDone,
}

/// Reads the usage of one stream, event by event.
pub trait EventReader: Send + Sync {
    /// Looks at one dispatched event and says what to do with it.
    fn inspect(&mut self, event: Option<&[u8]>, data: &[u8]) -> Disposition;

    /// The usage reported so far, if any.
    fn usage(&self) -> Option<Usage>;
}

/// Finds the values of one object key in a JSON document without parsing it.
///
/// In JSON a quote inside a string is always escaped, so an unescaped `"key"` followed by
/// optional whitespace and a colon is an object key. Nested objects with the same key are found
/// too, in document order; callers decide which one they want.
pub(crate) struct KeyFinder {
    quoted: Finder<'static>,
}

impl KeyFinder {
    /// `quoted_key` includes the quotes, e.g. `b"\"usage\""`.
    pub(crate) fn new(quoted_key: &'static [u8]) -> Self {
        KeyFinder {
            quoted: Finder::new(quoted_key),
        }
    }

    /// Offsets of the first byte of each value of the key.
    pub(crate) fn values<'a>(&'a self, doc: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let after_key = self.quoted.needle().len();
        self.quoted.find_iter(doc).filter_map(move |at| {
            if escaped(doc, at) {
                return None;
            }
            let colon = skip_ws(doc, at + after_key);
            if doc.get(colon) != Some(&b':') {
                return None;
            }
            let value = skip_ws(doc, colon + 1);
            (value < doc.len()).then_some(value)
        })
    }
}

/// Whether the byte at `at` is preceded by an odd number of backslashes.
fn escaped(doc: &[u8], at: usize) -> bool {
    doc[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

pub(crate) fn skip_ws(doc: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = doc.get(at) {
        at += 1;
    }
    at
}

/// A token count, read tolerantly: null, negative or fractional values do not make the
/// whole usage unreadable (null and negatives count as 0, fractions are truncated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Count(pub(crate) u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CountVisitor)
    }
}

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Count;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a token count")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
        Ok(Count(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
        Ok(Count(u64::try_from(v).unwrap_or(0)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
        // `as` saturates: NaN and negatives become 0.
        Ok(Count(v as u64))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
        Ok(Count(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(doc: &[u8]) -> Vec<usize> {
        KeyFinder::new(b"\"usage\"").values(doc).collect()
    }

    #[test]
    fn finds_keys_not_strings() {
        assert_eq!(values(br#"{"usage":1}"#), vec![9]);
        assert_eq!(values(b"{\"usage\" \r\n: \t2}"), vec![14]);
        // A value "usage", an escaped quote, a key ending in usage, a key at the very end.
        assert!(
            values(br#"{"a":"usage","b":"say \"usage\": 1","c \"usage":{},"usage""#).is_empty()
        );
        assert_eq!(values(br#"{"a":"\\","usage":3}"#), vec![18]);
        assert_eq!(values(br#"{"x":{"usage":1},"usage":2}"#), vec![14, 25]);
    }

    #[test]
    fn dialect_names_round_trip() {
        assert_eq!(Dialect::from_name("openai_chat"), Some(Dialect::OpenAiChat));
        assert_eq!(Dialect::OpenAiChat.name(), "openai_chat");
        assert_eq!(Dialect::from_name("OpenAI"), None);
    }

    #[test]
    fn counts_are_tolerant() {
        let counts: Vec<Count> = serde_json::from_str("[3, null, -4, 2.9, 1e30]").unwrap();
        assert_eq!(
            counts,
            vec![Count(3), Count(0), Count(0), Count(2), Count(u64::MAX)]
        );
        assert!(serde_json::from_str::<Count>("\"3\"").is_err());
    }
}
