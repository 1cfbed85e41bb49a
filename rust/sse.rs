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
mod tests;
