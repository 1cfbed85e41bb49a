use super::*;

fn usage(input: u64, cached: u64, output: u64, reasoning: u64, write: u64) -> Option<Usage> {
    Some(Usage {
        input,
        cached,
        output,
        reasoning,
        cache_write: write,
    })
}

const START: &[u8] = br#"{"type":"message_start","message":{"id":"msg_1","type":"message",
    "role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,
    "usage":{"input_tokens":25,"cache_creation_input_tokens":1200,
    "cache_read_input_tokens":4800,"output_tokens":1,"service_tier":"standard"}}}"#;

fn feed(reader: &mut MessagesReader, event: &str, data: &[u8]) -> Disposition {
    reader.inspect(Some(event.as_bytes()), data)
}

#[test]
fn message_start_then_delta() {
    let mut reader = MessagesReader::default();
    assert_eq!(reader.usage(), None);
    assert_eq!(
        feed(&mut reader, "message_start", START),
        Disposition::Forward { content: false }
    );
    assert_eq!(reader.usage(), usage(6025, 4800, 1, 0, 1200));
    let delta = br#"{"type":"message_delta","delta":{"stop_reason":"end_turn",
        "stop_sequence":null},"usage":{"output_tokens":15}}"#;
    assert_eq!(
        feed(&mut reader, "message_delta", delta),
        Disposition::WithholdUsage
    );
    assert_eq!(reader.usage(), usage(6025, 4800, 15, 0, 1200));
    assert_eq!(
        feed(&mut reader, "message_stop", br#"{"type":"message_stop"}"#),
        Disposition::Terminal
    );
    assert_eq!(reader.usage(), usage(6025, 4800, 15, 0, 1200));
}

#[test]
fn delta_counts_override_and_absent_or_null_ones_are_kept() {
    let mut reader = MessagesReader::default();
    feed(&mut reader, "message_start", START);
    // An OpenAI-backed translator: real input counts only at the end.
    let delta = br#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},
        "usage":{"input_tokens":0,"cache_read_input_tokens":null,"output_tokens":89,
        "output_tokens_details":{"thinking_tokens":31}}}"#;
    assert_eq!(
        feed(&mut reader, "message_delta", delta),
        Disposition::WithholdUsage
    );
    assert_eq!(reader.usage(), usage(6000, 4800, 89, 31, 1200));
    // A second delta: cumulative, so its counts replace; thinking is kept.
    let again = br#"{"type":"message_delta","usage":{"output_tokens":90,
        "cache_creation_input_tokens":0}}"#;
    assert_eq!(
        feed(&mut reader, "message_delta", again),
        Disposition::WithholdUsage
    );
    assert_eq!(reader.usage(), usage(4800, 4800, 90, 31, 0));
}

#[test]
fn usage_only_in_message_delta() {
    let mut reader = MessagesReader::default();
    let start = br#"{"type":"message_start","message":{"id":"m","usage":null}}"#;
    feed(&mut reader, "message_start", start);
    assert_eq!(reader.usage(), None);
    let delta = br#"{"type":"message_delta","usage":{"input_tokens":7,"output_tokens":3}}"#;
    feed(&mut reader, "message_delta", delta);
    assert_eq!(reader.usage(), usage(7, 0, 3, 0, 0));
}

#[test]
fn message_start_replaces_earlier_counts() {
    let mut reader = MessagesReader::default();
    feed(&mut reader, "message_start", START);
    let start = br#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#;
    feed(&mut reader, "message_start", start);
    assert_eq!(reader.usage(), usage(3, 0, 0, 0, 0));
}

#[test]
fn unreadable_usage_changes_nothing() {
    let mut reader = MessagesReader::default();
    feed(&mut reader, "message_start", START);
    for delta in [
        &br#"{"type":"message_delta","usage":{"output_tokens":"many"}}"#[..],
        br#"{"type":"message_delta","usage":[1,2,3]}"#,
        br#"{"type":"message_delta","usage":null}"#,
        br#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#,
    ] {
        assert_eq!(
            feed(&mut reader, "message_delta", delta),
            Disposition::WithholdUsage
        );
    }
    assert_eq!(reader.usage(), usage(6025, 4800, 1, 0, 1200));
}

#[test]
fn a_delta_that_is_not_an_object_is_forwarded() {
    let mut reader = MessagesReader::default();
    for data in [
        &b"[1]"[..],
        b"not json",
        b"",
        br#"{"usage":{"output_tokens":1}"#,
    ] {
        assert_eq!(
            feed(&mut reader, "message_delta", data),
            Disposition::Forward { content: false }
        );
    }
    assert_eq!(reader.usage(), None);
}

#[test]
fn other_events_are_forwarded() {
    let mut reader = MessagesReader::default();
    let cases: [(&str, &[u8], bool); 6] = [
        ("ping", br#"{"type": "ping"}"#, false),
        (
            "content_block_start",
            br#"{"type":"content_block_start","index":0,"content_block":{"type":"text"}}"#,
            true,
        ),
        (
            "content_block_delta",
            br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta",
            "text":"\"type\":\"message_stop\""}}"#,
            true,
        ),
        (
            "content_block_stop",
            br#"{"type":"content_block_stop","index":0}"#,
            true,
        ),
        (
            "error",
            br#"{"type":"error","error":{"type":"overloaded_error"}}"#,
            false,
        ),
        ("future_event", br#"{"type":"future_event"}"#, false),
    ];
    for (event, data, content) in cases {
        assert_eq!(
            feed(&mut reader, event, data),
            Disposition::Forward { content },
            "{event}"
        );
    }
    assert_eq!(reader.usage(), None);
}

#[test]
fn event_line_wins_over_the_json_type() {
    let mut reader = MessagesReader::default();
    assert_eq!(
        feed(&mut reader, "ping", br#"{"type":"message_stop"}"#),
        Disposition::Forward { content: false }
    );
    assert_eq!(
        feed(&mut reader, "message_stop", b"{}"),
        Disposition::Terminal
    );
}

#[test]
fn without_event_lines_the_json_type_decides() {
    let mut reader = MessagesReader::default();
    assert_eq!(
        reader.inspect(None, START),
        Disposition::Forward { content: false }
    );
    assert_eq!(reader.usage(), usage(6025, 4800, 1, 0, 1200));
    // The top-level type, even after a nested one.
    let delta = br#"{"usage":{"output_tokens":9},"delta":{"type":"x"},"type":"message_delta"}"#;
    assert_eq!(reader.inspect(None, delta), Disposition::WithholdUsage);
    assert_eq!(reader.usage(), usage(6025, 4800, 9, 0, 1200));
    let text = br#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}}"#;
    assert_eq!(
        reader.inspect(None, text),
        Disposition::Forward { content: true }
    );
    // A nested "type":"message_stop" (a tool's input) is not the event's type.
    let tool = br#"{"index":1,"content_block":{"type":"tool_use","input":{"type":"message_stop"}},
        "type":"content_block_start"}"#;
    assert_eq!(
        reader.inspect(None, tool),
        Disposition::Forward { content: true }
    );
    assert_eq!(
        reader.inspect(None, br#"{"type":"message_stop"}"#),
        Disposition::Terminal
    );
    assert_eq!(
        reader.inspect(None, b"not json"),
        Disposition::Forward { content: false }
    );
}

const BODY: &[u8] = br#"{"id":"msg_01","type":"message","role":"assistant",
    "model":"claude-sonnet-4-5","content":[{"type":"text","text":"The \"usage\": {\"input_tokens\": 1}"},
    {"type":"tool_use","id":"toolu_1","name":"bill","input":{"usage":{"input_tokens":99,"output_tokens":99}}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":120,"cache_creation_input_tokens":2048,"cache_read_input_tokens":10240,
      "cache_creation":{"ephemeral_5m_input_tokens":2048,"ephemeral_1h_input_tokens":0},
      "output_tokens":503,"service_tier":"standard"}}"#;

#[test]
fn reads_a_message_body() {
    assert_eq!(usage_from_json(BODY), usage(12408, 10240, 503, 0, 2048));
    assert_eq!(
        usage_from_json(br#"{"usage":{"output_tokens":4,"input_tokens":null}}"#),
        usage(0, 0, 4, 0, 0)
    );
    assert_eq!(
        usage_from_json(
            br#"{"usage":{"input_tokens":4,"output_tokens_details":{"thinking_tokens":2}}}"#
        ),
        usage(4, 0, 0, 2, 0)
    );
}

#[test]
fn bodies_without_usage() {
    for body in [
        &br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#[..],
        br#"{"content":[{"type":"tool_use","input":{"usage":{"input_tokens":5}}}]}"#,
        br#"{"usage":null}"#,
        br#"{"usage":{}}"#,
        br#"{"usage":{"output_tokens_details":{"thinking_tokens":2}}}"#,
        br#"{"usage":{"input_tokens":"many"}}"#,
        br#"{"usage":{"input_tokens":3"#,
        b"",
        b"[]",
    ] {
        assert_eq!(
            usage_from_json(body),
            None,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn huge_counts_saturate() {
    let body = br#"{"usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":5}}"#;
    assert_eq!(usage_from_json(body), usage(u64::MAX, 5, 0, 0, 0));
}
