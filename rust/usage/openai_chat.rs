//! OpenAI Chat Completions: `usage` of a `chat.completion` body or of a stream chunk.
//!
//! `prompt_tokens` already includes `prompt_tokens_details.cached_tokens` (and
//! `prompt_tokens_details.cache_write_tokens`, reported by some OpenAI-compatible providers),
//! and `completion_tokens` already includes `completion_tokens_details.reasoning_tokens`.
//! With `stream_options.include_usage` every chunk carries `"usage":null` and one last chunk,
//! with `"choices":[]`, carries the totals.

use std::sync::LazyLock;

use serde::Deserialize;

use super::{skip_ws, Count, Disposition, EventReader, KeyFinder, Usage};

static USAGE_KEY: LazyLock<KeyFinder> = LazyLock::new(|| KeyFinder::new(b"\"usage\""));
static CHOICES_KEY: LazyLock<KeyFinder> = LazyLock::new(|| KeyFinder::new(b"\"choices\""));

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<Count>,
    completion_tokens: Option<Count>,
    prompt_tokens_details: Option<PromptDetails>,
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Count,
    #[serde(default)]
    cache_write_tokens: Count,
}

#[derive(Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Count,
}

/// The usage of a chat completion body or chunk: the first `"usage"` value that is an object
/// holding `prompt_tokens` or `completion_tokens`. Only that value is parsed.
pub fn usage_from_json(doc: &[u8]) -> Option<Usage> {
    USAGE_KEY.values(doc).find_map(|at| {
        if doc[at] != b'{' {
            return None; // null, or not a usage object
        }
        let mut de = serde_json::Deserializer::from_slice(&doc[at..]);
        let wire = WireUsage::deserialize(&mut de).ok()?;
        if wire.prompt_tokens.is_none() && wire.completion_tokens.is_none() {
            return None;
        }
        let prompt = wire.prompt_tokens_details.as_ref();
        Some(Usage {
            input: wire.prompt_tokens.unwrap_or_default().0,
            cached: prompt.map_or(0, |d| d.cached_tokens.0),
            output: wire.completion_tokens.unwrap_or_default().0,
            reasoning: wire
                .completion_tokens_details
                .map_or(0, |d| d.reasoning_tokens.0),
            cache_write: prompt.map_or(0, |d| d.cache_write_tokens.0),
        })
    })
}

/// Whether the first `"choices"` key of a chunk holds an empty array.
pub fn has_empty_choices(doc: &[u8]) -> bool {
    CHOICES_KEY
        .values(doc)
        .next()
        .is_some_and(|at| doc[at] == b'[' && doc.get(skip_ws(doc, at + 1)) == Some(&b']'))
}

/// Reads a Chat Completions stream: the usage-only last chunk (a usage object and
/// `"choices": []`) is [`Disposition::WithholdUsage`], `[DONE]` is [`Disposition::Terminal`],
/// and the last usage seen is kept (OpenAI's usage is cumulative).
#[derive(Debug, Default)]
pub struct ChatReader {
    usage: Option<Usage>,
}

impl EventReader for ChatReader {
    fn inspect(&mut self, _event: Option<&[u8]>, data: &[u8]) -> Disposition {
        if data.trim_ascii() == b"[DONE]" {
            return Disposition::Terminal;
        }
        if let Some(usage) = usage_from_json(data) {
            self.usage = Some(usage);
            if has_empty_choices(data) {
                return Disposition::WithholdUsage;
            }
        }
        Disposition::Forward { content: true }
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Option<Usage> {
        Some(Usage {
            input,
            cached,
            output,
            reasoning,
            cache_write: 0,
        })
    }

    #[test]
    fn reads_a_completion_body() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,
            "message":{"role":"assistant","content":"The \"usage\": {\"prompt_tokens\": 99}"},
            "finish_reason":"stop"}],
            "usage" : {"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,
              "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
              "completion_tokens_details":{"reasoning_tokens":12,"audio_tokens":0,
                "accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
            "system_fingerprint":"fp_1"}"#;
        assert_eq!(usage_from_json(body), usage(1117, 1024, 46, 12));
    }

    #[test]
    fn missing_and_null_fields_are_zero() {
        assert_eq!(
            usage_from_json(br#"{"usage":{"prompt_tokens":5}}"#),
            usage(5, 0, 0, 0)
        );
        assert_eq!(
            usage_from_json(
                br#"{"usage":{"prompt_tokens":5,"completion_tokens":null,
                "prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":null}}}"#
            ),
            usage(5, 0, 0, 0)
        );
        assert_eq!(
            usage_from_json(br#"{"usage":{"completion_tokens":7,"prompt_tokens_details":{}}}"#),
            usage(0, 0, 7, 0)
        );
    }

    #[test]
    fn cache_writes() {
        let doc = br#"{"usage":{"prompt_tokens":100,"completion_tokens":3,
            "prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":30}}}"#;
        assert_eq!(
            usage_from_json(doc),
            Some(Usage {
                input: 100,
                cached: 60,
                output: 3,
                reasoning: 0,
                cache_write: 30,
            })
        );
        let doc =
            br#"{"usage":{"prompt_tokens":9,"prompt_tokens_details":{"cache_write_tokens":null}}}"#;
        assert_eq!(usage_from_json(doc), usage(9, 0, 0, 0));
    }

    #[test]
    fn no_usage() {
        assert_eq!(usage_from_json(br#"{"choices":[]}"#), None);
        assert_eq!(usage_from_json(br#"{"choices":[],"usage":null}"#), None);
        assert_eq!(usage_from_json(br#"{"usage":{"total_tokens":3}}"#), None);
        assert_eq!(usage_from_json(br#"{"usage":[1,2]}"#), None);
        assert_eq!(
            usage_from_json(br#"{"usage":{"prompt_tokens":"many"}}"#),
            None
        );
        assert_eq!(usage_from_json(b""), None);
        assert_eq!(usage_from_json(b"[DONE]"), None);
    }

    #[test]
    fn picks_the_usage_object_with_token_counts() {
        let doc = br#"{"meta":{"usage":{"plan":"free"}},"x":{"usage":null},
            "usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        assert_eq!(usage_from_json(doc), usage(3, 0, 4, 0));
    }

    #[test]
    fn truncated_usage_is_ignored() {
        assert_eq!(
            usage_from_json(br#"{"usage":{"prompt_tokens":3,"comp"#),
            None
        );
    }

    #[test]
    fn empty_choices() {
        assert!(has_empty_choices(br#"{"choices":[],"usage":{}}"#));
        assert!(has_empty_choices(b"{\"choices\" : [ \n\t]}"));
        assert!(!has_empty_choices(br#"{"choices":[{"index":0}]}"#));
        assert!(!has_empty_choices(br#"{"choices":null}"#));
        assert!(!has_empty_choices(br#"{"note":"\"choices\":[]"}"#));
        assert!(!has_empty_choices(br#"{"usage":{}}"#));
        assert!(!has_empty_choices(br#"{"choices":["#));
    }

    #[test]
    fn reader_withholds_done_and_the_usage_chunk() {
        let mut reader = ChatReader::default();
        let content = br#"{"choices":[{"delta":{"content":"hi"}}],"usage":null}"#;
        assert_eq!(
            reader.inspect(None, content),
            Disposition::Forward { content: true }
        );
        assert_eq!(reader.usage(), None);
        let with_choices =
            br#"{"choices":[{"delta":{}}],"usage":{"prompt_tokens":2,"completion_tokens":1}}"#;
        assert_eq!(
            reader.inspect(None, with_choices),
            Disposition::Forward { content: true }
        );
        assert_eq!(reader.usage(), usage(2, 0, 1, 0));
        let last = br#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5}}"#;
        assert_eq!(reader.inspect(None, last), Disposition::WithholdUsage);
        assert_eq!(reader.usage(), usage(2, 0, 5, 0));
        assert_eq!(reader.inspect(None, b"[DONE]"), Disposition::Terminal);
        assert_eq!(reader.inspect(None, b" [DONE] "), Disposition::Terminal);
        assert_eq!(reader.usage(), usage(2, 0, 5, 0));
    }

    #[test]
    fn empty_choices_without_usage_is_forwarded() {
        let mut reader = ChatReader::default();
        let filter = br#"{"choices":[],"prompt_filter_results":[{"prompt_index":0}],"usage":null}"#;
        assert_eq!(
            reader.inspect(None, filter),
            Disposition::Forward { content: true }
        );
    }
}
