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

const ANTHROPIC: &[u8] = b"event: message_start\n\
    data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[],\
    \"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":10,\"cache_read_input_tokens\":100,\
    \"output_tokens\":1}}}\n\n\
    event: content_block_start\r\n\
    data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n\
    event: ping\n\
    data: {\"type\": \"ping\"}\n\n\
    event: content_block_delta\n\
    data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
    event: content_block_stop\n\
    data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
    event: message_delta\n\
    data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n\
    : after the usage\n\n\
    event: ping\n\
    data: {\"type\": \"ping\"}\n\n\
    event: message_stop\n\
    data: {\"type\":\"message_stop\"}\n\n";

const RESPONSES: &[u8] = b"event: response.created\n\
    data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"usage\":null}}\n\n\
    : keep-alive\n\n\
    event: response.output_text.delta\r\n\
    data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\r\n\r\n\
    event: response.completed\n\
    data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"output\":[],\
    \"usage\":{\"input_tokens\":30,\"input_tokens_details\":{\"cached_tokens\":20},\
    \"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":4},\"total_tokens\":39}}}\n\n\
    : after the end\n\n";

const GEMINI: &[u8] = b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"It is\"}]}}],\
    \"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":2}}\r\n\r\n\
    data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" 18C.\"}]},\"finishReason\":\"STOP\"}],\
    \"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":40,\
    \"cachedContentTokenCount\":4}}\r\n\r\n\
    data: {\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":40}}\r\n\r\n";

struct Outcome {
    forwarded: Vec<u8>,
    usage: Option<Usage>,
    usage_data: Option<Vec<u8>>,
    tail: Vec<u8>,
    complete: bool,
    data_events: u64,
    content_seen: bool,
}

fn tap_dialect(dialect: Dialect, chunks: &[&[u8]]) -> Outcome {
    let mut tap = StreamTap::new(dialect, DEFAULT_MAX_LINE_BYTES);
    let mut forwarded = Vec::new();
    for chunk in chunks {
        forwarded.extend(tap.feed(chunk).unwrap());
    }
    forwarded.extend(tap.finish().unwrap());
    Outcome {
        forwarded,
        usage: tap.usage(),
        usage_data: tap.usage_data().map(<[u8]>::to_vec),
        tail: tap.tail().to_vec(),
        complete: tap.complete(),
        data_events: tap.data_events(),
        content_seen: tap.content_seen(),
    }
}

fn tap(chunks: &[&[u8]]) -> Outcome {
    tap_dialect(Dialect::OpenAiChat, chunks)
}

fn assert_same(a: &Outcome, b: &Outcome, context: &str) {
    assert_eq!(a.forwarded, b.forwarded, "{context}");
    assert_eq!(a.usage, b.usage, "{context}");
    assert_eq!(a.usage_data, b.usage_data, "{context}");
    assert_eq!(a.tail, b.tail, "{context}");
    assert_eq!(a.complete, b.complete, "{context}");
    assert_eq!(a.data_events, b.data_events, "{context}");
    assert_eq!(a.content_seen, b.content_seen, "{context}");
}

#[test]
fn withholds_usage_chunk_and_done() {
    let outcome = tap(&[STREAM]);
    let withheld = [b"data: ", USAGE_DATA, b"\n\n", b"data: [DONE]\n\n"].concat();
    assert!(STREAM.ends_with(&withheld));
    assert_eq!(outcome.forwarded, &STREAM[..STREAM.len() - withheld.len()]);
    assert_eq!(outcome.usage_data.as_deref(), Some(USAGE_DATA));
    assert_eq!(outcome.tail, b"data: [DONE]\n\n");
    assert!(outcome.complete);
    assert_eq!(
        outcome.usage,
        Some(Usage {
            input: 19,
            cached: 3,
            output: 10,
            reasoning: 4,
            cache_write: 0,
        })
    );
    assert_eq!(outcome.data_events, 3);
    assert!(outcome.content_seen);
}

#[test]
fn every_split_gives_the_same_outcome() {
    for (dialect, stream) in [
        (Dialect::OpenAiChat, STREAM),
        (Dialect::AnthropicMessages, ANTHROPIC),
        (Dialect::OpenAiResponses, RESPONSES),
        (Dialect::Gemini, GEMINI),
    ] {
        let whole = tap_dialect(dialect, &[stream]);
        for i in 0..=stream.len() {
            let (a, b) = stream.split_at(i);
            let split = tap_dialect(dialect, &[a, b]);
            assert_same(&split, &whole, &format!("{} split at {i}", dialect.name()));
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_same(&tap_dialect(dialect, &bytes), &whole, "byte by byte");
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
    assert!(!tap.complete());
    assert_eq!(tap.finish().unwrap(), b"");
    assert_eq!(tap.tail(), b"data: [DONE]");
    assert!(tap.complete());
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
            reasoning: 0,
            cache_write: 0,
        })
    );
    assert_eq!(outcome.usage_data, None);
    assert_eq!(outcome.tail, b"");
    assert!(!outcome.complete);
    assert_eq!(outcome.data_events, 1);
}

#[test]
fn blocks_after_the_usage_chunk_are_held() {
    let usage_block = [b"data: ", USAGE_DATA, b"\n\n"].concat();
    let late = b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n";
    let stream = [
        &usage_block[..],
        b": keep-alive\n\n",
        late,
        b"data: [DONE]\n\n",
    ]
    .concat();
    let outcome = tap(&[&stream]);
    assert_eq!(outcome.forwarded, b"");
    assert_eq!(outcome.usage_data.as_deref(), Some(USAGE_DATA));
    assert_eq!(outcome.tail, &stream[usage_block.len()..]);
    assert_eq!(outcome.data_events, 1); // the late chunk, held but passed on
    assert!(outcome.complete);
}

#[test]
fn the_last_of_several_usage_chunks_is_kept() {
    let first =
        b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n";
    let second = b"{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}";
    let stream = [&first[..], b": x\n\n", b"data: ", second, b"\n\n"].concat();
    let outcome = tap(&[&stream]);
    assert_eq!(outcome.forwarded, b"");
    assert_eq!(outcome.usage_data.as_deref(), Some(&second[..]));
    assert_eq!(outcome.tail, b": x\n\n");
    assert_eq!(outcome.usage.map(|u| u.output), Some(3));
    assert!(!outcome.complete);
}

#[test]
fn blocks_after_the_terminal_event_are_held() {
    let stream = b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n: bye\n\ndata: {\"x\":1}\n\n";
    let outcome = tap(&[stream]);
    assert_eq!(outcome.forwarded, b"data: {\"choices\":[]}\n\n");
    assert_eq!(
        outcome.tail,
        b"data: [DONE]\n\n: bye\n\ndata: {\"x\":1}\n\n"
    );
    assert!(outcome.complete);
    assert_eq!(outcome.data_events, 2);
}

#[test]
fn anthropic_stream() {
    let outcome = tap_dialect(Dialect::AnthropicMessages, &[ANTHROPIC]);
    let delta_at = memchr::memmem::find(ANTHROPIC, b"event: message_delta").unwrap();
    let after_at = memchr::memmem::find(ANTHROPIC, b": after the usage").unwrap();
    assert_eq!(outcome.forwarded, &ANTHROPIC[..delta_at]);
    assert_eq!(
        outcome.usage_data.as_deref(),
        Some(
            &b"{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\
            \"usage\":{\"output_tokens\":15}}"[..]
        )
    );
    assert_eq!(outcome.tail, &ANTHROPIC[after_at..]);
    assert!(outcome.complete);
    assert_eq!(
        outcome.usage,
        Some(Usage {
            input: 135,
            cached: 100,
            output: 15,
            reasoning: 0,
            cache_write: 10,
        })
    );
    assert_eq!(outcome.data_events, 6); // start, 3 content, 2 pings
    assert!(outcome.content_seen);
}

#[test]
fn anthropic_stream_cut_short() {
    let cut = memchr::memmem::find(ANTHROPIC, b"event: content_block_stop").unwrap();
    let outcome = tap_dialect(Dialect::AnthropicMessages, &[&ANTHROPIC[..cut]]);
    assert_eq!(outcome.forwarded, &ANTHROPIC[..cut]);
    assert_eq!(outcome.tail, b"");
    assert_eq!(outcome.usage_data, None);
    assert!(!outcome.complete);
    assert_eq!(outcome.usage.map(|u| (u.input, u.output)), Some((135, 1)));
}

#[test]
fn anthropic_without_event_lines() {
    let stream =
        b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":4}}}\n\n\
        data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":2}}\n\n\
        data: {\"type\":\"message_stop\"}\n\n";
    let outcome = tap_dialect(Dialect::AnthropicMessages, &[stream]);
    assert!(outcome.complete);
    assert_eq!(outcome.usage.map(|u| (u.input, u.output)), Some((4, 2)));
    assert_eq!(outcome.tail, b"data: {\"type\":\"message_stop\"}\n\n");
    assert_eq!(outcome.data_events, 1);
    assert!(!outcome.content_seen);
}

#[test]
fn nothing_but_comments() {
    let outcome = tap(&[b": ping\n\n: ping\n\n"]);
    assert_eq!(outcome.forwarded, b": ping\n\n: ping\n\n");
    assert_eq!(outcome.data_events, 0);
    assert!(!outcome.content_seen);
    assert!(!outcome.complete);
}

#[test]
fn line_cap_error_propagates() {
    let mut tap = StreamTap::new(Dialect::OpenAiChat, 16);
    assert_eq!(
        tap.feed(b"data: {\"choices\":[1,2,3]}\n\n"),
        Err(SseError::LineTooLong { max: 16 })
    );
}

#[test]
fn responses_stream() {
    let outcome = tap_dialect(Dialect::OpenAiResponses, &[RESPONSES]);
    let completed_at = memchr::memmem::find(RESPONSES, b"event: response.completed").unwrap();
    assert_eq!(outcome.forwarded, &RESPONSES[..completed_at]);
    let data = outcome.usage_data.unwrap();
    assert!(data.starts_with(b"{\"type\":\"response.completed\""));
    assert!(RESPONSES[completed_at..]
        .starts_with(&[b"event: response.completed\ndata: ", &data[..], b"\n\n"].concat()));
    assert_eq!(outcome.tail, b": after the end\n\n");
    assert!(outcome.complete);
    assert_eq!(
        outcome.usage,
        Some(Usage {
            input: 30,
            cached: 20,
            output: 9,
            reasoning: 4,
            cache_write: 0,
        })
    );
    assert_eq!(outcome.data_events, 2);
    assert!(outcome.content_seen);
}

#[test]
fn responses_failure_is_held_raw() {
    let failed = b"event: response.failed\n\
        data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\"}}}\n\n";
    let delta = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n";
    let outcome = tap_dialect(Dialect::OpenAiResponses, &[delta, failed]);
    assert_eq!(outcome.forwarded, delta);
    assert_eq!(outcome.usage_data, None);
    assert_eq!(outcome.tail, failed);
    assert!(outcome.complete);
    assert_eq!(outcome.usage, None);
}

#[test]
fn responses_cut_short() {
    let cut = memchr::memmem::find(RESPONSES, b"event: response.completed").unwrap();
    let outcome = tap_dialect(Dialect::OpenAiResponses, &[&RESPONSES[..cut]]);
    assert_eq!(outcome.forwarded, &RESPONSES[..cut]);
    assert_eq!((outcome.usage, outcome.usage_data), (None, None));
    assert_eq!(outcome.tail, b"");
    assert!(!outcome.complete);
    // Cut inside response.completed: the broken event is passed on and ends nothing.
    let cut = memchr::memmem::find(RESPONSES, b"\"total_tokens\"").unwrap();
    let outcome = tap_dialect(Dialect::OpenAiResponses, &[&RESPONSES[..cut]]);
    assert_eq!(outcome.forwarded, &RESPONSES[..cut]);
    assert_eq!((outcome.usage, outcome.usage_data), (None, None));
    assert!(!outcome.complete);
}

#[test]
fn gemini_holds_nothing() {
    let outcome = tap_dialect(Dialect::Gemini, &[GEMINI]);
    assert_eq!(outcome.forwarded, GEMINI);
    assert_eq!(outcome.usage_data, None);
    assert_eq!(outcome.tail, b"");
    assert!(outcome.complete);
    // The usage-only chunk after the finishing one is the last usage seen.
    assert_eq!(
        outcome.usage,
        Some(Usage {
            input: 9,
            cached: 0,
            output: 46,
            reasoning: 40,
            cache_write: 0,
        })
    );
    assert_eq!(outcome.data_events, 3);
    assert!(outcome.content_seen);
}

#[test]
fn gemini_cut_short() {
    let cut = memchr::memmem::find(
        GEMINI,
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" 18",
    )
    .unwrap();
    let outcome = tap_dialect(Dialect::Gemini, &[&GEMINI[..cut]]);
    assert_eq!(outcome.forwarded, &GEMINI[..cut]);
    assert!(!outcome.complete);
    assert_eq!(outcome.usage.map(|u| (u.input, u.output)), Some((9, 2)));
}
