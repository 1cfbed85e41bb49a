//! The stream tap: frames an upstream SSE stream, forwards its bytes verbatim and reads the
//! usage out of it on the way, holding back the few events the gateway may rewrite.

use crate::sse::{BlockRef, SseError, SseFramer};
use crate::usage::{Dialect, Disposition, EventReader, Usage};

/// Forwards complete SSE blocks of one upstream stream, reading usage with a dialect's reader.
///
/// Bytes come out only in whole blocks, in input order, unchanged. Held back are the blocks
/// the reader withholds: the end sentinel (its raw bytes are kept in [`StreamTap::done_raw`])
/// and a usage-only event (its data is kept in [`StreamTap::usage_data`]).
pub struct StreamTap {
    framer: SseFramer,
    state: TapState,
}

struct TapState {
    reader: Box<dyn EventReader>,
    usage_data: Option<Vec<u8>>,
    done_raw: Option<Vec<u8>>,
    data_events: u64,
    content_seen: bool,
}

impl StreamTap {
    pub fn new(dialect: Dialect, max_line_bytes: usize) -> Self {
        StreamTap {
            framer: SseFramer::new(max_line_bytes),
            state: TapState {
                reader: dialect.reader(),
                usage_data: None,
                done_raw: None,
                data_events: 0,
                content_seen: false,
            },
        }
    }

    /// The raw bytes of the blocks completed by `chunk`, minus the withheld ones.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<u8>, SseError> {
        let mut out = Vec::with_capacity(chunk.len());
        self.feed_into(chunk, &mut out)?;
        Ok(out)
    }

    /// Like [`StreamTap::feed`], appending to `out`.
    pub fn feed_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), SseError> {
        self.framer
            .feed_with(chunk, |block| self.state.take(block, out))
    }

    /// What is left at the end of the stream (a trailing block without its blank line), under
    /// the same rules.
    pub fn finish(&mut self) -> Result<Vec<u8>, SseError> {
        let mut out = Vec::new();
        self.finish_into(&mut out)?;
        Ok(out)
    }

    /// Like [`StreamTap::finish`], appending to `out`.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) -> Result<(), SseError> {
        self.framer.finish_with(|block| self.state.take(block, out))
    }

    /// The last usage reported by the stream.
    pub fn usage(&self) -> Option<Usage> {
        self.state.reader.usage()
    }

    /// The data of the withheld usage event (the last one, if there were several).
    pub fn usage_data(&self) -> Option<&[u8]> {
        self.state.usage_data.as_deref()
    }

    /// The raw bytes of the withheld end sentinel block.
    pub fn done_raw(&self) -> Option<&[u8]> {
        self.state.done_raw.as_deref()
    }

    /// Data events forwarded so far (withheld ones not counted).
    pub fn data_events(&self) -> u64 {
        self.state.data_events
    }

    /// Whether a forwarded event carried model output.
    pub fn content_seen(&self) -> bool {
        self.state.content_seen
    }
}

impl TapState {
    fn take(&mut self, block: BlockRef<'_>, out: &mut Vec<u8>) {
        let Some(data) = block.data else {
            out.extend_from_slice(block.raw); // comments and blank lines
            return;
        };
        match self.reader.inspect(block.event, data) {
            Disposition::Forward { content } => {
                out.extend_from_slice(block.raw);
                self.data_events += 1;
                self.content_seen |= content;
            }
            Disposition::WithholdUsage => self.usage_data = Some(data.to_vec()),
            Disposition::WithholdDone => self.done_raw = Some(block.raw.to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::DEFAULT_MAX_LINE_BYTES;

    const STREAM: &[u8] = b": keep-alive\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\\"usage\\\"\"}}],\"usage\":null}\r\n\r\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\
        \"prompt_tokens_details\":{\"cached_tokens\":3},\"completion_tokens_details\":{\"reasoning_tokens\":4}}}\n\n\
        data: [DONE]\n\n";

    const USAGE_DATA: &[u8] = b"{\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,\
        \"prompt_tokens_details\":{\"cached_tokens\":3},\"completion_tokens_details\":{\"reasoning_tokens\":4}}}";

    struct Outcome {
        forwarded: Vec<u8>,
        usage: Option<Usage>,
        usage_data: Option<Vec<u8>>,
        done_raw: Option<Vec<u8>>,
        data_events: u64,
        content_seen: bool,
    }

    fn tap(chunks: &[&[u8]]) -> Outcome {
        let mut tap = StreamTap::new(Dialect::OpenAiChat, DEFAULT_MAX_LINE_BYTES);
        let mut forwarded = Vec::new();
        for chunk in chunks {
            forwarded.extend(tap.feed(chunk).unwrap());
        }
        forwarded.extend(tap.finish().unwrap());
        Outcome {
            forwarded,
            usage: tap.usage(),
            usage_data: tap.usage_data().map(<[u8]>::to_vec),
            done_raw: tap.done_raw().map(<[u8]>::to_vec),
            data_events: tap.data_events(),
            content_seen: tap.content_seen(),
        }
    }

    #[test]
    fn withholds_usage_chunk_and_done() {
        let outcome = tap(&[STREAM]);
        let withheld = [b"data: ", USAGE_DATA, b"\n\n", b"data: [DONE]\n\n"].concat();
        assert!(STREAM.ends_with(&withheld));
        assert_eq!(outcome.forwarded, &STREAM[..STREAM.len() - withheld.len()]);
        assert_eq!(outcome.usage_data.as_deref(), Some(USAGE_DATA));
        assert_eq!(outcome.done_raw.as_deref(), Some(&b"data: [DONE]\n\n"[..]));
        assert_eq!(
            outcome.usage,
            Some(Usage {
                input: 19,
                cached: 3,
                output: 10,
                reasoning: 4
            })
        );
        assert_eq!(outcome.data_events, 3);
        assert!(outcome.content_seen);
    }

    #[test]
    fn every_split_gives_the_same_outcome() {
        let whole = tap(&[STREAM]);
        for i in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(i);
            let split = tap(&[a, b]);
            assert_eq!(split.forwarded, whole.forwarded, "split at {i}");
            assert_eq!(split.usage, whole.usage);
            assert_eq!(split.usage_data, whole.usage_data);
            assert_eq!(split.done_raw, whole.done_raw);
            assert_eq!(split.data_events, whole.data_events);
        }
    }

    #[test]
    fn forwards_whole_blocks_only() {
        let mut tap = StreamTap::new(Dialect::OpenAiChat, DEFAULT_MAX_LINE_BYTES);
        assert_eq!(tap.feed(b"data: {\"choices\":[]}\n").unwrap(), b"");
        assert_eq!(
            tap.feed(b"\ndata: [DO").unwrap(),
            b"data: {\"choices\":[]}\n\n"
        );
        assert_eq!(tap.feed(b"NE]").unwrap(), b"");
        assert_eq!(tap.finish().unwrap(), b"");
        assert_eq!(tap.done_raw(), Some(&b"data: [DONE]"[..]));
        assert_eq!(tap.data_events(), 1);
        assert_eq!(tap.usage(), None);
    }

    #[test]
    fn usage_in_a_content_chunk_is_read_and_forwarded() {
        let chunk = b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\
            \"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2}}\n\n";
        let outcome = tap(&[chunk]);
        assert_eq!(outcome.forwarded, chunk);
        assert_eq!(
            outcome.usage,
            Some(Usage {
                input: 8,
                cached: 0,
                output: 2,
                reasoning: 0
            })
        );
        assert_eq!(outcome.usage_data, None);
        assert_eq!(outcome.data_events, 1);
    }

    #[test]
    fn nothing_but_comments() {
        let outcome = tap(&[b": ping\n\n: ping\n\n"]);
        assert_eq!(outcome.forwarded, b": ping\n\n: ping\n\n");
        assert_eq!(outcome.data_events, 0);
        assert!(!outcome.content_seen);
    }

    #[test]
    fn line_cap_error_propagates() {
        let mut tap = StreamTap::new(Dialect::OpenAiChat, 16);
        assert_eq!(
            tap.feed(b"data: {\"choices\":[1,2,3]}\n\n"),
            Err(SseError::LineTooLong { max: 16 })
        );
    }
}
