//! Gemini: `usageMetadata` of a `GenerateContentResponse`, whole or streamed
//! (`streamGenerateContent?alt=sse`, where every chunk is a whole response of its own).
//!
//! `promptTokenCount` already includes `cachedContentTokenCount`; `toolUsePromptTokenCount`
//! (the results of server-side tools) is prompt too, so the canonical input is their sum.
//! `candidatesTokenCount` leaves out `thoughtsTokenCount`, so the canonical output is their
//! sum and the reasoning is the thoughts. Gemini has no cache writes; `cacheWriteTokenCount`
//! is Weir's own addition to its Gemini output (what another upstream wrote), read so a chain
//! of gateways bills it once. The same rules as `weir.dialects.gemini.response`.
//!
//! A stream has no end sentinel and no usage event: any chunk may carry `usageMetadata`
//! (cumulative, so the last one seen is the usage), and holding chunks back would delay text.
//! So every chunk is forwarded as it arrives; the stream is complete once a chunk ends a
//! candidate (`finishReason`), blocks the prompt (`promptFeedback.blockReason`, sent instead of
//! candidates), or is an error (`{"error": {...}}`, which Gemini sends mid-stream).

use memchr::memmem;
use serde::Deserialize;

use super::{
    is_json_object, top_level_entries, top_level_value, Count, Disposition, EventReader, Usage,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    prompt_token_count: Option<Count>,
    candidates_token_count: Option<Count>,
    thoughts_token_count: Option<Count>,
    cached_content_token_count: Option<Count>,
    tool_use_prompt_token_count: Option<Count>,
    cache_write_token_count: Option<Count>,
}

/// The usage object that starts at `doc[at]`; None unless it is an object with a token count.
fn usage_at(doc: &[u8], at: usize) -> Option<Usage> {
    if doc[at] != b'{' {
        return None; // null, or an array a derived struct would read by position
    }
    let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
    let wire = WireUsage::deserialize(&mut de).ok()?;
    let counts = [
        wire.prompt_token_count,
        wire.candidates_token_count,
        wire.thoughts_token_count,
        wire.cached_content_token_count,
        wire.tool_use_prompt_token_count,
        wire.cache_write_token_count,
    ];
    if counts.iter().all(Option::is_none) {
        return None;
    }
    let count = |c: Option<Count>| c.unwrap_or_default().0;
    let thoughts = count(wire.thoughts_token_count);
    Some(Usage {
        input: count(wire.prompt_token_count)
            .saturating_add(count(wire.tool_use_prompt_token_count)),
        cached: count(wire.cached_content_token_count),
        output: count(wire.candidates_token_count).saturating_add(thoughts),
        reasoning: thoughts,
        cache_write: count(wire.cache_write_token_count),
    })
}

/// The usage of a non-streaming `GenerateContentResponse`: its top-level `usageMetadata`. None
/// when it has none, or none with a token count.
pub fn usage_from_json(doc: &[u8]) -> Option<Usage> {
    usage_at(doc, top_level_value(doc, b"usageMetadata")?)
}

#[derive(Deserialize)]
struct Candidate {
    #[serde(rename = "finishReason")]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct PromptFeedback {
    #[serde(rename = "blockReason")]
    block_reason: Option<String>,
}

/// Whether a reason is set: present, not null, not empty and not the enum's unset value.
fn is_set(reason: Option<&str>, unset: &str) -> bool {
    reason.is_some_and(|r| !r.is_empty() && r != unset)
}

/// Whether the `candidates` array at `doc[at]` holds a candidate with a finish reason.
fn ends_a_candidate(doc: &[u8], at: usize) -> bool {
    let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
    Vec::<Candidate>::deserialize(&mut de).is_ok_and(|candidates| {
        candidates
            .iter()
            .any(|c| is_set(c.finish_reason.as_deref(), "FINISH_REASON_UNSPECIFIED"))
    })
}

/// Whether the `promptFeedback` object at `doc[at]` says the prompt was blocked.
fn blocks_the_prompt(doc: &[u8], at: usize) -> bool {
    let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
    PromptFeedback::deserialize(&mut de)
        .is_ok_and(|feedback| is_set(feedback.block_reason.as_deref(), "BLOCK_REASON_UNSPECIFIED"))
}

/// Reads a `streamGenerateContent?alt=sse` stream: every chunk is forwarded, the last
/// `usageMetadata` seen is the usage, and a chunk that ends the answer (see the module
/// documentation) and is a whole JSON object is [`Disposition::ForwardLast`]. One walk over
/// each chunk's top-level keys; candidates are parsed only when the chunk holds a
/// `finishReason` key somewhere.
#[derive(Debug, Default)]
pub struct GeminiReader {
    usage: Option<Usage>,
}

impl EventReader for GeminiReader {
    fn inspect(&mut self, _event: Option<&[u8]>, data: &[u8]) -> Disposition {
        let may_finish = memmem::find(data, b"\"finishReason\"").is_some();
        let mut content = false;
        let mut last = false;
        for (name, at) in top_level_entries(data) {
            match name {
                b"usageMetadata" => {
                    if let Some(usage) = usage_at(data, at) {
                        self.usage = Some(usage);
                    }
                }
                b"candidates" => {
                    content = true;
                    last |= may_finish && ends_a_candidate(data, at);
                }
                b"promptFeedback" => last |= blocks_the_prompt(data, at),
                b"error" => last |= data[at] == b'{',
                _ => {}
            }
        }
        // A chunk cut short (the stream stopped inside it) ends nothing, whatever it began with.
        if last && is_json_object(data) {
            Disposition::ForwardLast { content }
        } else {
            Disposition::Forward { content }
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests;
