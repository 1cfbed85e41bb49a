//! OpenAI Responses: `usage` of a `response` object, whole or at the end of a stream.
//!
//! `input_tokens` already includes `input_tokens_details.cached_tokens` (and
//! `input_tokens_details.cache_write_tokens`, which OpenAI does not send but Weir's own
//! Responses output does, so a chain of gateways bills cache writes once), and
//! `output_tokens` already includes `output_tokens_details.reasoning_tokens`; the canonical
//! counts are these as they are, as the Python converter in `weir.dialects.openai_responses`
//! reads them.
//!
//! A stream reports usage once, in its last event: `response.completed` (or
//! `response.incomplete`, cut at `max_output_tokens`) carries the whole response, its usage at
//! `response.usage`. That event is both the usage event and the end of the stream, so it is
//! withheld for the gateway to rewrite with its own usage and cost. `response.failed` and a
//! stream-level `error` event end the stream too; they are held raw (usage read if present).
//! Only those events are parsed; the rest are classified by their type and passed on.

use serde::Deserialize;

use super::{
    is_json_object, top_level_str, top_level_value, Count, Disposition, EventReader, Usage,
};

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: Option<Count>,
    output_tokens: Option<Count>,
    input_tokens_details: Option<InputDetails>,
    output_tokens_details: Option<OutputDetails>,
}

#[derive(Deserialize)]
struct InputDetails {
    #[serde(default)]
    cached_tokens: Count,
    #[serde(default)]
    cache_write_tokens: Count,
}

#[derive(Deserialize)]
struct OutputDetails {
    #[serde(default)]
    reasoning_tokens: Count,
}

/// The usage object that starts at `doc[at]`; None unless it is an object with a token count.
fn usage_at(doc: &[u8], at: usize) -> Option<Usage> {
    if doc[at] != b'{' {
        return None; // null, or an array a derived struct would read by position
    }
    let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
    let wire = WireUsage::deserialize(&mut de).ok()?;
    if wire.input_tokens.is_none() && wire.output_tokens.is_none() {
        return None;
    }
    let input = wire.input_tokens_details.as_ref();
    Some(Usage {
        input: wire.input_tokens.unwrap_or_default().0,
        cached: input.map_or(0, |d| d.cached_tokens.0),
        output: wire.output_tokens.unwrap_or_default().0,
        reasoning: wire
            .output_tokens_details
            .map_or(0, |d| d.reasoning_tokens.0),
        cache_write: input.map_or(0, |d| d.cache_write_tokens.0),
    })
}

/// The usage of a non-streaming `response` body: its top-level `usage` (a `usage` key inside an
/// output item or a tool's arguments is not mistaken for it). None when it has none, or none
/// with a token count.
pub fn usage_from_json(doc: &[u8]) -> Option<Usage> {
    usage_at(doc, top_level_value(doc, b"usage")?)
}

/// The usage of a lifecycle event: `response.usage`.
fn event_usage(data: &[u8]) -> Option<Usage> {
    let at = top_level_value(data, b"response")?;
    let response = &data[at..];
    if response[0] != b'{' {
        return None;
    }
    usage_at(response, top_level_value(response, b"usage")?)
}

/// Event types that carry model output (as opposed to the lifecycle bookkeeping of
/// `response.created`, `response.in_progress` and `response.queued`).
fn is_content(kind: &[u8]) -> bool {
    kind.starts_with(b"response.")
        && !matches!(
            kind,
            b"response.created" | b"response.in_progress" | b"response.queued"
        )
}

/// Reads a Responses stream.
///
/// The event type is the JSON `"type"` (what Codex and the SDK's stream helper switch on), or
/// the SSE `event:` field when the data has none. `response.completed` and
/// `response.incomplete` are [`Disposition::WithholdLastUsage`], with or without a usage (so
/// the gateway can always write the usage it settled); `response.failed` and `error` are
/// [`Disposition::Terminal`]. Each of these counts only when its data is a whole JSON object:
/// one that is not (a stream cut inside its last event, or garbage) is forwarded as it is and
/// ends nothing, so the gateway reports the stream as broken. Everything else is forwarded.
#[derive(Debug, Default)]
pub struct ResponsesReader {
    usage: Option<Usage>,
}

impl ResponsesReader {
    fn read_usage(&mut self, data: &[u8]) {
        if let Some(usage) = event_usage(data) {
            self.usage = Some(usage);
        }
    }
}

impl EventReader for ResponsesReader {
    fn inspect(&mut self, event: Option<&[u8]>, data: &[u8]) -> Disposition {
        let kind = top_level_str(data, b"type").or(event).unwrap_or_default();
        let last = match kind {
            b"response.completed" | b"response.incomplete" => Disposition::WithholdLastUsage,
            b"response.failed" | b"error" => Disposition::Terminal,
            _ => {
                return Disposition::Forward {
                    content: is_content(kind),
                }
            }
        };
        if !is_json_object(data) {
            return Disposition::Forward { content: false };
        }
        self.read_usage(data);
        last
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests;
