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
