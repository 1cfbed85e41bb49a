//! Token usage read out of upstream responses, one file per wire dialect.
//!
//! A dialect file provides a function for a whole (non-streaming) response body and an
//! [`EventReader`] that the stream tap calls for each dispatched SSE event. Adding a dialect
//! means adding its file, a [`Dialect`] variant and one line in [`Dialect::reader`].

use memchr::memchr2;
use memchr::memmem::Finder;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub mod anthropic_messages;
pub mod gemini;
pub mod openai_chat;
pub mod openai_responses;

/// Token counts of one call, in the gateway's canonical terms (the same whatever the dialect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens: uncached ones, cache reads (`cached`) and cache writes
    /// (`cache_write`).
    pub input: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached: u64,
    /// All output tokens, reasoning ones included.
    pub output: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write: u64,
}

/// The wire dialects whose streams the tap can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAiChat,
    AnthropicMessages,
    OpenAiResponses,
    Gemini,
}

impl Dialect {
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "openai_chat" => Some(Dialect::OpenAiChat),
            "anthropic_messages" => Some(Dialect::AnthropicMessages),
            "openai_responses" => Some(Dialect::OpenAiResponses),
            "gemini" => Some(Dialect::Gemini),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "openai_chat",
            Dialect::AnthropicMessages => "anthropic_messages",
            Dialect::OpenAiResponses => "openai_responses",
            Dialect::Gemini => "gemini",
        }
    }

    /// A fresh reader for one stream of this dialect.
    pub fn reader(self) -> Box<dyn EventReader> {
        match self {
            Dialect::OpenAiChat => Box::new(openai_chat::ChatReader::default()),
            Dialect::AnthropicMessages => Box::new(anthropic_messages::MessagesReader::default()),
            Dialect::OpenAiResponses => Box::new(openai_responses::ResponsesReader::default()),
            Dialect::Gemini => Box::new(gemini::GeminiReader::default()),
        }
    }
}

/// What the tap does with one dispatched event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Pass it on verbatim; `content` tells whether it carries model output (as opposed to
    /// bookkeeping such as a ping).
    Forward { content: bool },
    /// Pass it on verbatim like [`Disposition::Forward`], and mark the stream complete: the
    /// last event of a dialect that has no end sentinel and no usage event to rewrite (Gemini,
    /// whose every chunk may carry usage). Later blocks are passed on too.
    ForwardLast { content: bool },
    /// The event carrying the final usage, which the gateway rewrites: its data is kept, and
    /// it and every later block are held back.
    WithholdUsage,
    /// The event carrying the final usage that is also the stream's last (Responses'
    /// `response.completed`): held as [`Disposition::WithholdUsage`] is, and the stream is
    /// complete.
    WithholdLastUsage,
    /// The stream's last event (its end sentinel): always held back, raw.
    Terminal,
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

/// The offset of the value of `key` in the top-level object of a JSON document (the first such
/// key), found by stepping over the values before it without parsing them: strings are skipped
/// with memchr, so long texts cost little. Keys are compared raw (escapes are not decoded).
/// None when the document is not an object, lacks the key, or is malformed before it.
pub(crate) fn top_level_value(doc: &[u8], key: &[u8]) -> Option<usize> {
    top_level_entries(doc)
        .find(|&(name, _)| name == key)
        .map(|(_, at)| at)
}

/// The entries of the top-level object of a JSON document, in document order: each key (raw,
/// escapes not decoded) with the offset of its value. A value is stepped over only when the
/// next entry is asked for, so stopping at a key costs nothing past it. The iteration ends at
/// the end of the object, or where the document is not an object or is malformed.
pub(crate) fn top_level_entries(doc: &[u8]) -> TopLevelEntries<'_> {
    TopLevelEntries {
        doc,
        cursor: Cursor::Start,
    }
}

pub(crate) struct TopLevelEntries<'a> {
    doc: &'a [u8],
    cursor: Cursor,
}

enum Cursor {
    Start,
    /// The value of the last entry handed out starts here.
    Value(usize),
    Done,
}

impl<'a> Iterator for TopLevelEntries<'a> {
    type Item = (&'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        let doc = self.doc;
        let key_at = match std::mem::replace(&mut self.cursor, Cursor::Done) {
            Cursor::Done => return None,
            Cursor::Start => {
                let at = skip_ws(doc, 0);
                if doc.get(at) != Some(&b'{') {
                    return None;
                }
                skip_ws(doc, at + 1)
            }
            Cursor::Value(value) => {
                let at = skip_ws(doc, skip_value(doc, value)?);
                if doc.get(at) != Some(&b',') {
                    return None; // the end of the object, or not JSON
                }
                skip_ws(doc, at + 1)
            }
        };
        if doc.get(key_at) != Some(&b'"') {
            return None;
        }
        let end = string_end(doc, key_at)?;
        let name = &doc[key_at + 1..end - 1];
        let colon = skip_ws(doc, end);
        if doc.get(colon) != Some(&b':') {
            return None;
        }
        let value = skip_ws(doc, colon + 1);
        if value >= doc.len() {
            return None;
        }
        self.cursor = Cursor::Value(value);
        Some((name, value))
    }
}

/// Whether a document is one whole JSON object (checked without building it). The readers
/// ask this of an event before treating it as the end of its stream: an event cut short is no
/// end, so a stream that stops inside its last event is not taken as complete.
pub(crate) fn is_json_object(doc: &[u8]) -> bool {
    doc.trim_ascii_start().first() == Some(&b'{')
        && serde_json::from_slice::<de::IgnoredAny>(doc).is_ok()
}

/// The raw contents of a top-level string value (escapes not decoded).
pub(crate) fn top_level_str<'a>(doc: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = top_level_value(doc, key)?;
    if doc[at] != b'"' {
        return None;
    }
    let end = string_end(doc, at)?;
    Some(&doc[at + 1..end - 1])
}

/// `doc[at]` is an opening quote: the offset just past the closing one.
fn string_end(doc: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        i += memchr2(b'"', b'\\', doc.get(i..)?)?;
        if doc[i] == b'"' {
            return Some(i + 1);
        }
        i += 2; // a backslash and the byte it escapes
    }
}

/// The offset just past the JSON value that starts at `doc[at]`.
fn skip_value(doc: &[u8], at: usize) -> Option<usize> {
    match doc[at] {
        b'"' => string_end(doc, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            while let Some(&byte) = doc.get(i) {
                match byte {
                    b'"' => {
                        i = string_end(doc, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // A number, true, false or null: up to the next delimiter.
            let len = doc[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(doc.len() - at);
            Some(at + len)
        }
    }
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
mod tests;
