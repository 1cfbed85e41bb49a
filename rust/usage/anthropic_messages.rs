//! Anthropic Messages: `usage` of a `message` body or of a stream.
//!
//! Anthropic's `input_tokens` are the uncached ones only; the canonical input adds the cache
//! reads (`cache_read_input_tokens`) and cache writes (`cache_creation_input_tokens`). Output
//! tokens include thinking; some Anthropic-compatible upstreams report how many in
//! `output_tokens_details.thinking_tokens` (read as reasoning, 0 when absent, as the Python
//! converter in `weir.dialects.anthropic_messages` does; Anthropic itself does not send it).
//!
//! A stream reports usage twice: `message_start`'s `message.usage` gives the initial counts,
//! and `message_delta`'s `usage` the cumulative final ones; a count `message_delta` leaves out
//! (or sends as null) keeps its earlier value (the SDK's `accumulate_event`). Only these two
//! events are parsed; content events are classified by their name and passed on untouched.

use serde::Deserialize;
use serde_json::Value;

use super::{top_level_str, top_level_value, Count, Disposition, EventReader, Usage};

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: Option<Count>,
    cache_creation_input_tokens: Option<Count>,
    cache_read_input_tokens: Option<Count>,
    output_tokens: Option<Count>,
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Deserialize)]
struct OutputDetails {
    thinking_tokens: Option<Count>,
}

/// Anthropic's counts as reported so far; `None` for a count never reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    output: Option<u64>,
    thinking: Option<u64>,
}

impl Counts {
    /// The counts of a usage object; None unless it is an object that can be read.
    fn read(value: &Value) -> Option<Counts> {
        if !value.is_object() {
            return None; // null, or an array a derived struct would read by position
        }
        let wire = WireUsage::deserialize(value).ok()?;
        Some(Counts {
            input: wire.input_tokens.map(|c| c.0),
            cache_read: wire.cache_read_input_tokens.map(|c| c.0),
            cache_write: wire.cache_creation_input_tokens.map(|c| c.0),
            output: wire.output_tokens.map(|c| c.0),
            thinking: wire
                .output_tokens_details
                .and_then(|d| d.thinking_tokens)
                .map(|c| c.0),
        })
    }

    /// Later counts override earlier ones; counts they leave out are kept.
    fn merge(self, later: Counts) -> Counts {
        Counts {
            input: later.input.or(self.input),
            cache_read: later.cache_read.or(self.cache_read),
            cache_write: later.cache_write.or(self.cache_write),
            output: later.output.or(self.output),
            thinking: later.thinking.or(self.thinking),
        }
    }

    fn any(&self) -> bool {
        self.input.is_some()
            || self.cache_read.is_some()
            || self.cache_write.is_some()
            || self.output.is_some()
    }

    fn canonical(&self) -> Usage {
        let cached = self.cache_read.unwrap_or(0);
        let cache_write = self.cache_write.unwrap_or(0);
        Usage {
            input: self
                .input
                .unwrap_or(0)
                .saturating_add(cached)
                .saturating_add(cache_write),
            cached,
            output: self.output.unwrap_or(0),
            reasoning: self.thinking.unwrap_or(0),
            cache_write,
        }
    }
}

/// The usage of a non-streaming `message` body: its top-level `usage` object (a `usage` key
/// nested in a content block, say a tool's input, is not mistaken for it). None when the body
/// has none, or none with a token count.
pub fn usage_from_json(doc: &[u8]) -> Option<Usage> {
    let at = top_level_value(doc, b"usage")?;
    let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
    let value = Value::deserialize(&mut de).ok()?;
    Counts::read(&value)
        .filter(Counts::any)
        .map(|c| c.canonical())
}

/// An event's data parsed whole, if it is a JSON object.
fn object(data: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(data)
        .ok()
        .filter(Value::is_object)
}

/// Reads a Messages stream.
///
/// The event type is the SSE `event:` field, or the top-level JSON `"type"` when the block has
/// no `event:` line. `message_delta` (the stop reason and the final usage) is
/// [`Disposition::WithholdUsage`] whenever its data is a JSON object, with or without a usage
/// (so the gateway can always write the usage it settled); data that is not a JSON object is
/// forwarded as it is. `message_stop` is [`Disposition::Terminal`]. Everything else
/// (`message_start`, content blocks, `ping`, `error`, event types newer than this code) is
/// forwarded.
///
/// Anthropic sends one `message_delta`. Should an upstream send several, each is withheld and
/// merged into the usage; the tap keeps the last one's data and holds every block from the
/// first one on, so the gateway writes one `message_delta` carrying the merged usage
/// ([`EventReader::usage`]) where the first one was.
#[derive(Debug, Default)]
pub struct MessagesReader {
    counts: Counts,
}

impl EventReader for MessagesReader {
    fn inspect(&mut self, event: Option<&[u8]>, data: &[u8]) -> Disposition {
        let kind = match event {
            Some(name) => name,
            None => top_level_str(data, b"type").unwrap_or_default(),
        };
        match kind {
            b"content_block_delta" | b"content_block_start" | b"content_block_stop" => {
                Disposition::Forward { content: true }
            }
            b"message_delta" => {
                let Some(event) = object(data) else {
                    return Disposition::Forward { content: false };
                };
                if let Some(counts) = event.get("usage").and_then(Counts::read) {
                    self.counts = self.counts.merge(counts);
                }
                Disposition::WithholdUsage
            }
            b"message_start" => {
                // A new message starts from its own counts (the SDK replaces its snapshot).
                if let Some(event) = object(data) {
                    let usage = event.get("message").and_then(|m| m.get("usage"));
                    self.counts = usage.and_then(Counts::read).unwrap_or_default();
                }
                Disposition::Forward { content: false }
            }
            b"message_stop" => Disposition::Terminal,
            _ => Disposition::Forward { content: false },
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.counts.any().then(|| self.counts.canonical())
    }
}

#[cfg(test)]
mod tests;
