//! The stream tap: frames an upstream SSE stream, forwards its bytes verbatim and reads the
//! usage out of it on the way, holding back the end of the stream, which the gateway rewrites.

use crate::sse::{BlockRef, SseError, SseFramer};
use crate::usage::{Dialect, Disposition, EventReader, Usage};

/// Forwards complete SSE blocks of one upstream stream, reading usage with a dialect's reader.
///
/// Bytes come out only in whole blocks, in input order, unchanged, until the reader meets the
/// event carrying the final usage ([`Disposition::WithholdUsage`], or
/// [`Disposition::WithholdLastUsage`] when that event also ends the stream) or the stream's
/// last event ([`Disposition::Terminal`]). The usage event's data is kept
/// ([`StreamTap::usage_data`]), and from then on every block is held: its raw bytes are appended to [`StreamTap::tail`]
/// (another usage event only replaces `usage_data`: the usage is cumulative, so the last one
/// supersedes the others). The gateway then writes its own rewrite of the usage event followed
/// by the tail, so the client gets the stream in its order with one usage event, the gateway's.
/// A dialect without an end sentinel or a usage event to rewrite (Gemini) holds nothing: its
/// last event is passed on and only marks the stream complete ([`Disposition::ForwardLast`]).
pub struct StreamTap {
    framer: SseFramer,
    state: TapState,
}

struct TapState {
    reader: Box<dyn EventReader>,
    usage_data: Option<Vec<u8>>,
    tail: Vec<u8>,
    /// A usage event or the terminal event was seen: every later block goes to `tail`.
    holding: bool,
    complete: bool,
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
                tail: Vec::new(),
                holding: false,
                complete: false,
                data_events: 0,
                content_seen: false,
            },
        }
    }

    /// The raw bytes of the blocks completed by `chunk`, minus the held ones.
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

    /// The usage reported by the stream so far, merged by the dialect's rules.
    pub fn usage(&self) -> Option<Usage> {
        self.state.reader.usage()
    }

    /// The data of the withheld usage event (the last one, if there were several).
    pub fn usage_data(&self) -> Option<&[u8]> {
        self.state.usage_data.as_deref()
    }

    /// The raw bytes of the blocks held after the usage event, and of the terminal event
    /// (always held); empty when nothing is held.
    pub fn tail(&self) -> &[u8] {
        &self.state.tail
    }

    /// Whether the stream's terminal event was seen (the stream was not cut short).
    pub fn complete(&self) -> bool {
        self.state.complete
    }

    /// Data events passed on verbatim, forwarded or held in the tail (the usage event and the
    /// terminal event not counted).
    pub fn data_events(&self) -> u64 {
        self.state.data_events
    }

    /// Whether an event passed on carried model output.
    pub fn content_seen(&self) -> bool {
        self.state.content_seen
    }
}

impl TapState {
    fn take(&mut self, block: BlockRef<'_>, out: &mut Vec<u8>) {
        let Some(data) = block.data else {
            self.pass(block.raw, out); // comments and blank lines
            return;
        };
        match self.reader.inspect(block.event, data) {
            Disposition::Forward { content } => {
                self.pass(block.raw, out);
                self.data_events += 1;
                self.content_seen |= content;
            }
            Disposition::ForwardLast { content } => {
                self.pass(block.raw, out);
                self.data_events += 1;
                self.content_seen |= content;
                self.complete = true;
            }
            Disposition::WithholdUsage => {
                self.usage_data = Some(data.to_vec());
                self.holding = true;
            }
            Disposition::WithholdLastUsage => {
                self.usage_data = Some(data.to_vec());
                self.holding = true;
                self.complete = true;
            }
            Disposition::Terminal => {
                self.tail.extend_from_slice(block.raw);
                self.holding = true;
                self.complete = true;
            }
        }
    }

    fn pass(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        if self.holding {
            self.tail.extend_from_slice(raw);
        } else {
            out.extend_from_slice(raw);
        }
    }
}

#[cfg(test)]
mod tests;
