//! Incremental Server-Sent Events framing, after the WHATWG HTML "event stream interpretation".
//!
//! The framer cuts a byte stream into *blocks*: every line up to and including the blank line
//! that ends an event (or a block of comments). Each block keeps its exact input bytes, so a
//! passthrough can forward it verbatim, and the event it dispatches, if any. The result does not
//! depend on how the input was split into chunks: a CR at the end of the buffered input waits
//! for the next byte, because it may be the first half of a CRLF.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use memchr::{memchr, memchr2};

/// The default cap on one line, in bytes (1 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line (not counting its terminator) is longer than the framer's cap.
    LineTooLong { max: usize },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::LineTooLong { max } => {
                write!(f, "SSE line longer than max_line_bytes ({max} bytes)")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// A block as the framer hands it over, borrowing its buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef<'a> {
    /// The exact input bytes of the block, terminators included.
    pub raw: &'a [u8],
    /// The value of the last `event:` line; `None` when absent or empty (type "message").
    pub event: Option<&'a [u8]>,
    /// The data lines joined with `\n`; `None` when the block has no data line and so
    /// dispatches no event.
    pub data: Option<&'a [u8]>,
    /// The value of the last `id:` line of this block (values holding NUL are ignored).
    pub id: Option<&'a [u8]>,
}

impl BlockRef<'_> {
    pub fn dispatches(&self) -> bool {
        self.data.is_some()
    }

    pub fn to_block(&self) -> Block {
        Block {
            raw: self.raw.to_vec(),
            event: self.event.map(lossy_string),
            data: self.data.map(<[u8]>::to_vec),
            id: self.id.map(lossy_string),
        }
    }
}

/// An owned block; see [`BlockRef`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    pub raw: Vec<u8>,
    pub event: Option<String>,
    pub data: Option<Vec<u8>>,
    pub id: Option<String>,
}

impl Block {
    pub fn dispatches(&self) -> bool {
        self.data.is_some()
    }
}

fn lossy_string(bytes: &[u8]) -> String {
    match String::from_utf8_lossy(bytes) {
        Cow::Borrowed(s) => s.to_owned(),
        Cow::Owned(s) => s,
    }
}

/// Splits an SSE byte stream into blocks; see the module documentation.
#[derive(Debug)]
pub struct SseFramer {
    /// Input not yet handed out; always starts at the first byte of the current block.
    buf: Vec<u8>,
    lines: LineReader,
    failed: Option<SseError>,
}

impl Default for SseFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl SseFramer {
    pub fn new(max_line_bytes: usize) -> Self {
        SseFramer {
            buf: Vec::new(),
            lines: LineReader::new(max_line_bytes),
            failed: None,
        }
    }

    /// Bytes held back until their block is complete.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends the blocks completed by `chunk` to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Block>) -> Result<(), SseError> {
        self.feed_with(chunk, |block| out.push(block.to_block()))
    }

    /// Appends what is left (a trailing block without its blank line) to `out`, and resets the
    /// framer for a new stream.
    pub fn finish(&mut self, out: &mut Vec<Block>) -> Result<(), SseError> {
        self.finish_with(|block| out.push(block.to_block()))
    }

    /// Calls `on_block` for each block completed by `chunk`, in order. After an error the
    /// framer keeps failing with it.
    pub fn feed_with<F>(&mut self, chunk: &[u8], mut on_block: F) -> Result<(), SseError>
    where
        F: FnMut(BlockRef<'_>),
    {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let result = if self.buf.is_empty() {
            // Nothing held back: read straight from the chunk and keep only its tail.
            let result = self.lines.run(chunk, false, &mut on_block);
            if let Ok(consumed) = result {
                self.buf.extend_from_slice(&chunk[consumed..]);
            }
            result
        } else {
            self.buf.extend_from_slice(chunk);
            let result = self.lines.run(&self.buf, false, &mut on_block);
            if let Ok(consumed) = result {
                self.buf.drain(..consumed);
            }
            result
        };
        match result {
            Ok(consumed) => {
                self.lines.shift(consumed);
                Ok(())
            }
            Err(err) => {
                self.buf = Vec::new();
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Hands out the trailing block, if any bytes are left: it dispatches its event if it has a
    /// data line (upstreams often omit the final blank line), and a CR at the very end counts
    /// as a line end. The framer is then ready for a new stream.
    pub fn finish_with<F>(&mut self, mut on_block: F) -> Result<(), SseError>
    where
        F: FnMut(BlockRef<'_>),
    {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.lines.run(&buf, true, &mut on_block);
        self.lines = LineReader::new(self.lines.max_line);
        buf.clear();
        self.buf = buf;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }
}

/// Reads lines and the fields of the current block. Every offset is relative to the start of
/// the input being read, which is always the start of the current block.
#[derive(Debug)]
struct LineReader {
    max_line: usize,
    /// Start of the first line not interpreted yet.
    line_start: usize,
    /// Where the search for the next line end resumes (no CR or LF in `line_start..search`).
    search: usize,
    at_stream_start: bool,
    fields: Fields,
}

impl LineReader {
    fn new(max_line: usize) -> Self {
        LineReader {
            max_line,
            line_start: 0,
            search: 0,
            at_stream_start: true,
            fields: Fields::default(),
        }
    }

    /// Interprets the complete lines of `input` and hands out each complete block. Returns the
    /// end of the last block handed out. With `eof`, a trailing CR ends its line, a final line
    /// without terminator is read, and the remaining bytes form one last block.
    fn run<F>(&mut self, input: &[u8], eof: bool, on_block: &mut F) -> Result<usize, SseError>
    where
        F: FnMut(BlockRef<'_>),
    {
        let mut block_start = 0;
        loop {
            let Some(found) = memchr2(b'\n', b'\r', &input[self.search..]) else {
                self.search = input.len();
                self.check_len(input.len() - self.line_start)?;
                break;
            };
            let eol = self.search + found;
            let next = if input[eol] == b'\n' {
                eol + 1
            } else {
                match input.get(eol + 1) {
                    Some(b'\n') => eol + 2,
                    Some(_) => eol + 1,
                    None if eof => eol + 1,
                    None => {
                        // A CR as the last byte: wait to see whether an LF follows.
                        self.search = eol;
                        self.check_len(eol - self.line_start)?;
                        break;
                    }
                }
            };
            self.check_len(eol - self.line_start)?;
            let blank = self.line(
                &input[block_start..],
                self.line_start - block_start,
                eol - block_start,
            );
            self.line_start = next;
            self.search = next;
            if blank {
                on_block(self.fields.block(&input[block_start..next]));
                self.fields.clear();
                block_start = next;
            }
        }
        if eof && block_start < input.len() {
            if self.line_start < input.len() {
                let block = &input[block_start..];
                self.line(block, self.line_start - block_start, block.len());
            }
            on_block(self.fields.block(&input[block_start..]));
            self.fields.clear();
            block_start = input.len();
        }
        Ok(block_start)
    }

    /// Interprets the line `block[start..end]`; returns whether it is blank.
    fn line(&mut self, block: &[u8], mut start: usize, end: usize) -> bool {
        if self.at_stream_start {
            self.at_stream_start = false;
            if block[start..end].starts_with(BOM) {
                start += BOM.len();
            }
        }
        if start == end {
            return true;
        }
        self.fields.read(block, start, end);
        false
    }

    fn check_len(&self, len: usize) -> Result<(), SseError> {
        if len > self.max_line {
            return Err(SseError::LineTooLong { max: self.max_line });
        }
        Ok(())
    }

    /// Moves the offsets after the first `consumed` bytes of the input were dropped.
    fn shift(&mut self, consumed: usize) {
        self.line_start -= consumed;
        self.search -= consumed;
    }
}

/// The fields read so far in the current block, as spans of the block.
#[derive(Debug, Default)]
struct Fields {
    event: Option<Range<usize>>,
    id: Option<Range<usize>>,
    data_lines: usize,
    first_data: Range<usize>,
    /// The joined data, used from the second data line on.
    joined: Vec<u8>,
}

impl Fields {
    fn read(&mut self, block: &[u8], start: usize, end: usize) {
        let line = &block[start..end];
        if line[0] == b':' {
            return; // a comment
        }
        let (name, value) = match memchr(b':', line) {
            Some(colon) => {
                let mut value = start + colon + 1;
                if value < end && block[value] == b' ' {
                    value += 1;
                }
                (&line[..colon], value..end)
            }
            None => (line, end..end),
        };
        match name {
            b"data" => self.push_data(block, value),
            b"event" => self.event = Some(value),
            b"id" if memchr(0, &block[value.clone()]).is_none() => self.id = Some(value),
            _ => {} // `retry`, unknown fields and ids holding NUL are ignored
        }
    }

    fn push_data(&mut self, block: &[u8], value: Range<usize>) {
        self.data_lines += 1;
        match self.data_lines {
            1 => self.first_data = value,
            2 => {
                self.joined.clear();
                self.joined
                    .extend_from_slice(&block[self.first_data.clone()]);
                self.joined.push(b'\n');
                self.joined.extend_from_slice(&block[value]);
            }
            _ => {
                self.joined.push(b'\n');
                self.joined.extend_from_slice(&block[value]);
            }
        }
    }

    fn block<'a>(&'a self, raw: &'a [u8]) -> BlockRef<'a> {
        let data = match self.data_lines {
            0 => None,
            1 => Some(&raw[self.first_data.clone()]),
            _ => Some(self.joined.as_slice()),
        };
        BlockRef {
            raw,
            event: self
                .event
                .clone()
                .map(|span| &raw[span])
                .filter(|event| !event.is_empty()),
            data,
            id: self.id.clone().map(|span| &raw[span]),
        }
    }

    fn clear(&mut self) {
        self.event = None;
        self.id = None;
        self.data_lines = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_chunks(chunks: &[&[u8]], max_line: usize) -> Result<Vec<Block>, SseError> {
        let mut framer = SseFramer::new(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, &mut out)?;
        }
        framer.finish(&mut out)?;
        Ok(out)
    }

    fn frame(input: &[u8]) -> Vec<Block> {
        frame_chunks(&[input], DEFAULT_MAX_LINE_BYTES).unwrap()
    }

    /// (event, data) of the dispatched events.
    fn events(blocks: &[Block]) -> Vec<(Option<&str>, &[u8])> {
        blocks
            .iter()
            .filter_map(|b| Some((b.event.as_deref(), b.data.as_deref()?)))
            .collect()
    }

    fn raws(blocks: &[Block]) -> Vec<&[u8]> {
        blocks.iter().map(|b| b.raw.as_slice()).collect()
    }

    const MIXED: &[u8] =
        b": hello\r\n\r\nevent: add\rdata: 1\r\ndata:2\n\ndata: {\"a\": 1}\r\rid: 7\ndata\n\
        retry: 10\nfoo: bar\n\n\n: ping\n\ndata:  two spaces\r\n\r\ndata: tail";

    #[test]
    fn single_event() {
        let blocks = frame(b"data: hello\n\n");
        assert_eq!(
            blocks,
            vec![Block {
                raw: b"data: hello\n\n".to_vec(),
                event: None,
                data: Some(b"hello".to_vec()),
                id: None
            }]
        );
    }

    #[test]
    fn mixed_line_endings_and_fields() {
        let blocks = frame(MIXED);
        assert_eq!(
            raws(&blocks),
            vec![
                &b": hello\r\n\r\n"[..],
                b"event: add\rdata: 1\r\ndata:2\n\n",
                b"data: {\"a\": 1}\r\r",
                b"id: 7\ndata\nretry: 10\nfoo: bar\n\n",
                b"\n",
                b": ping\n\n",
                b"data:  two spaces\r\n\r\n",
                b"data: tail",
            ]
        );
        assert_eq!(
            events(&blocks),
            vec![
                (Some("add"), &b"1\n2"[..]),
                (None, b"{\"a\": 1}"),
                (None, b""),
                (None, b" two spaces"),
                (None, b"tail"),
            ]
        );
        assert_eq!(blocks[3].id.as_deref(), Some("7"));
        assert!(!blocks[0].dispatches() && !blocks[4].dispatches() && !blocks[5].dispatches());
        assert_eq!(raws(&blocks).concat(), MIXED);
    }

    #[test]
    fn every_split_gives_the_same_blocks() {
        let whole = frame(MIXED);
        for i in 0..=MIXED.len() {
            let (a, b) = MIXED.split_at(i);
            assert_eq!(
                frame_chunks(&[a, b], 1 << 20).unwrap(),
                whole,
                "split at {i}"
            );
        }
        let bytes: Vec<&[u8]> = MIXED.chunks(1).collect();
        assert_eq!(frame_chunks(&bytes, 1 << 20).unwrap(), whole);
    }

    #[test]
    fn trailing_cr_waits_for_the_next_byte() {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        framer.feed(b"data: a\r\n\r", &mut out).unwrap();
        assert!(out.is_empty());
        framer.feed(b"\n", &mut out).unwrap();
        assert_eq!(raws(&out), vec![&b"data: a\r\n\r\n"[..]]);
        framer.feed(b"data: b\r", &mut out).unwrap();
        framer.feed(b"\r", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        framer.feed(b"x", &mut out).unwrap();
        assert_eq!(raws(&out)[1], b"data: b\r\r");
        assert_eq!(framer.buffered(), 1);
    }

    #[test]
    fn finish_resolves_a_trailing_cr_and_dispatches_leniently() {
        let blocks = frame(b"data: a\r");
        assert_eq!(events(&blocks), vec![(None, &b"a"[..])]);
        assert_eq!(raws(&blocks), vec![&b"data: a\r"[..]]);
        let blocks = frame(b"event: x\ndata: a\ndata: b");
        assert_eq!(events(&blocks), vec![(Some("x"), &b"a\nb"[..])]);
    }

    #[test]
    fn finish_returns_a_trailing_comment_without_dispatching() {
        let blocks = frame(b"data: a\n\n: bye\n");
        assert_eq!(raws(&blocks), vec![&b"data: a\n\n"[..], b": bye\n"]);
        assert!(!blocks[1].dispatches());
        assert!(frame(b"").is_empty());
    }

    #[test]
    fn field_edge_cases() {
        let input = b"event:\ndata: x\n\nevent: a\nevent: b\nid: 1\nid: 2\0\ndata\n\n\
            data:\ndata:\n\ndat: no\n\nDATA: no\n\n";
        let blocks = frame(input);
        assert_eq!(
            events(&blocks),
            vec![(None, &b"x"[..]), (Some("b"), b""), (None, b"\n")]
        );
        assert_eq!(blocks[1].id.as_deref(), Some("1"));
        assert_eq!(blocks.len(), 5);
        assert!(!blocks[3].dispatches() && !blocks[4].dispatches());
    }

    #[test]
    fn leading_bom_is_skipped_once() {
        let input = b"\xEF\xBB\xBFdata: a\n\n\xEF\xBB\xBFdata: b\n\n";
        let blocks = frame(input);
        assert_eq!(events(&blocks), vec![(None, &b"a"[..])]);
        assert_eq!(raws(&blocks).concat(), input);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(frame_chunks(&[a, b], 64).unwrap(), blocks);
        }
    }

    #[test]
    fn many_data_lines_are_joined() {
        let mut input = Vec::new();
        for i in 0..100 {
            input.extend_from_slice(format!("data: {i}\n").as_bytes());
        }
        input.push(b'\n');
        let blocks = frame(&input);
        let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(
            blocks[0].data.as_deref(),
            Some(expected.join("\n").as_bytes())
        );
    }

    #[test]
    fn line_cap_counts_content_without_terminator() {
        // "data: 1234" is 10 bytes.
        assert!(frame_chunks(&[b"data: 1234\r\n\r\n"], 10).is_ok());
        assert!(frame_chunks(&[b"data: 1234\r", b"\n\r\n"], 10).is_ok());
        assert_eq!(
            frame_chunks(&[b"data: 12345\n\n"], 10),
            Err(SseError::LineTooLong { max: 10 })
        );
        // A partial line over the cap fails before its end arrives.
        let mut framer = SseFramer::new(10);
        let mut out = Vec::new();
        framer.feed(b"data: 1234", &mut out).unwrap();
        assert_eq!(
            framer.feed(b"5", &mut out),
            Err(SseError::LineTooLong { max: 10 })
        );
        assert_eq!(
            framer.feed(b"\n\n", &mut out),
            Err(SseError::LineTooLong { max: 10 })
        );
        assert_eq!(framer.buffered(), 0);
        assert_eq!(
            SseError::LineTooLong { max: 10 }.to_string(),
            "SSE line longer than max_line_bytes (10 bytes)"
        );
    }

    #[test]
    fn blocks_before_an_error_are_handed_out() {
        let mut framer = SseFramer::new(8);
        let mut out = Vec::new();
        let result = framer.feed(b"data: a\n\ndata: toolong\n\n", &mut out);
        assert_eq!(result, Err(SseError::LineTooLong { max: 8 }));
        assert_eq!(events(&out), vec![(None, &b"a"[..])]);
    }

    #[test]
    fn framer_is_reusable_after_finish() {
        let mut framer = SseFramer::default();
        let mut out = Vec::new();
        framer.feed(b"data: a", &mut out).unwrap();
        framer.finish(&mut out).unwrap();
        framer.feed(b"\xEF\xBB\xBFdata: b\n\n", &mut out).unwrap();
        assert_eq!(events(&out), vec![(None, &b"a"[..]), (None, b"b")]);
    }

    #[test]
    fn invalid_utf8_event_name_is_replaced() {
        let blocks = frame(b"event: \xFFx\ndata: 1\n\n");
        assert_eq!(blocks[0].event.as_deref(), Some("\u{FFFD}x"));
    }
}
