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

const COMPLETED: &[u8] = br#"{"type":"response.completed","sequence_number":9,
    "response":{"id":"resp_1","object":"response","status":"completed","model":"gpt-5",
    "output":[{"id":"fc_1","type":"function_call","name":"log",
      "arguments":"{\"usage\":{\"input_tokens\":1}}","call_id":"call_1"},
     {"id":"msg_1","type":"message","content":[{"type":"output_text","text":"\"usage\": {}"}]}],
    "tools":[{"type":"function","name":"log","parameters":{"properties":{"usage":{"type":"object"}}}}],
    "usage":{"input_tokens":5120,"input_tokens_details":{"cached_tokens":4096},
      "output_tokens":310,"output_tokens_details":{"reasoning_tokens":256},"total_tokens":5430},
    "user":null}}"#;

fn feed(reader: &mut ResponsesReader, event: &str, data: &[u8]) -> Disposition {
    reader.inspect(Some(event.as_bytes()), data)
}

#[test]
fn reads_a_response_body() {
    let body = br#"{"id":"resp_1","object":"response","status":"completed",
        "output":[{"type":"function_call","arguments":"{\"usage\":{\"input_tokens\":9}}"}],
        "usage" : {"input_tokens":3200,"input_tokens_details":{"cached_tokens":2048,
          "cache_write_tokens":64},"output_tokens":450,
          "output_tokens_details":{"reasoning_tokens":320},"total_tokens":3650}}"#;
    assert_eq!(usage_from_json(body), usage(3200, 2048, 450, 320, 64));
}

#[test]
fn body_without_usage() {
    for body in [
        &br#"{"id":"r","output":[{"usage":{"input_tokens":1}}]}"#[..],
        br#"{"id":"r","usage":null}"#,
        br#"{"usage":{"total_tokens":3}}"#,
        br#"{"usage":[1,2]}"#,
        br#"{"usage":{"input_tokens":"many"}}"#,
        br#"{"usage":{"input_tokens":3,"outp"#,
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
fn missing_and_null_details_are_zero() {
    assert_eq!(
        usage_from_json(br#"{"usage":{"input_tokens":5}}"#),
        usage(5, 0, 0, 0, 0)
    );
    assert_eq!(
        usage_from_json(
            br#"{"usage":{"input_tokens":5,"output_tokens":null,"input_tokens_details":null,
            "output_tokens_details":{"reasoning_tokens":null}}}"#
        ),
        usage(5, 0, 0, 0, 0)
    );
    assert_eq!(
        usage_from_json(br#"{"usage":{"output_tokens":7,"input_tokens_details":{}}}"#),
        usage(0, 0, 7, 0, 0)
    );
}

#[test]
fn completed_is_the_last_usage_event() {
    let mut reader = ResponsesReader::default();
    assert_eq!(reader.usage(), None);
    assert_eq!(
        feed(&mut reader, "response.completed", COMPLETED),
        Disposition::WithholdLastUsage
    );
    assert_eq!(reader.usage(), usage(5120, 4096, 310, 256, 0));
}

#[test]
fn the_json_type_decides_and_the_event_name_stands_in() {
    let mut reader = ResponsesReader::default();
    // No event line: the JSON type.
    assert_eq!(
        reader.inspect(None, COMPLETED),
        Disposition::WithholdLastUsage
    );
    // An event name that disagrees with the JSON type: the type wins.
    let delta = br#"{"type":"response.output_text.delta","delta":"hi"}"#;
    assert_eq!(
        feed(&mut reader, "response.completed", delta),
        Disposition::Forward { content: true }
    );
    // No JSON type: the event name.
    assert_eq!(
        feed(&mut reader, "response.incomplete", br#"{"response":{}}"#),
        Disposition::WithholdLastUsage
    );
    assert_eq!(feed(&mut reader, "error", b"{}"), Disposition::Terminal);
    assert_eq!(reader.usage(), usage(5120, 4096, 310, 256, 0));
}

#[test]
fn incomplete_without_usage_is_withheld_all_the_same() {
    let mut reader = ResponsesReader::default();
    for data in [
        &br#"{"type":"response.incomplete","response":{"id":"r","usage":null}}"#[..],
        br#"{"type":"response.incomplete","response":{"id":"r"}}"#,
        br#"{"type":"response.incomplete","response":null}"#,
        br#"{"type":"response.incomplete","response":{"usage":{"input_tokens":"x"}}}"#,
    ] {
        assert_eq!(reader.inspect(None, data), Disposition::WithholdLastUsage);
    }
    assert_eq!(reader.usage(), None);
}

#[test]
fn a_last_event_cut_short_ends_nothing() {
    let mut reader = ResponsesReader::default();
    for (event, data) in [
        ("response.completed", &b"[1]"[..]),
        ("response.completed", b"not json"),
        ("response.completed", b""),
        (
            "response.completed",
            br#"{"type":"response.completed","response":{"usage":{"input_tokens":3}}"#,
        ),
        (
            "response.incomplete",
            br#"{"type":"response.incomplete"} trailing"#,
        ),
        (
            "response.failed",
            br#"{"type":"response.failed","response":{"#,
        ),
        ("error", br#"{"type":"error","code":"#),
    ] {
        assert_eq!(
            feed(&mut reader, event, data),
            Disposition::Forward { content: false },
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    assert_eq!(reader.usage(), None);
}

#[test]
fn failures_are_terminal() {
    let mut reader = ResponsesReader::default();
    let failed = br#"{"type":"response.failed","response":{"id":"r","status":"failed",
        "error":{"code":"server_error","message":"boom"},"usage":null}}"#;
    assert_eq!(
        feed(&mut reader, "response.failed", failed),
        Disposition::Terminal
    );
    assert_eq!(reader.usage(), None);
    let error = br#"{"type":"error","code":"rate_limit_exceeded","message":"slow down",
        "param":null,"sequence_number":3}"#;
    assert_eq!(reader.inspect(None, error), Disposition::Terminal);
    // A failure that reports what it used is billed for it.
    let failed = br#"{"type":"response.failed","response":{"status":"failed",
        "usage":{"input_tokens":40,"output_tokens":2}}}"#;
    assert_eq!(reader.inspect(None, failed), Disposition::Terminal);
    assert_eq!(reader.usage(), usage(40, 0, 2, 0, 0));
}

#[test]
fn everything_else_is_forwarded() {
    let mut reader = ResponsesReader::default();
    let created = br#"{"type":"response.created","response":{"id":"r","status":"in_progress",
        "usage":{"input_tokens":1,"output_tokens":1}}}"#;
    assert_eq!(
        reader.inspect(None, created),
        Disposition::Forward { content: false }
    );
    assert_eq!(reader.usage(), None); // usage is read only at the end
    for (kind, content) in [
        ("response.in_progress", false),
        ("response.queued", false),
        ("response.output_item.added", true),
        ("response.content_part.added", true),
        ("response.output_text.delta", true),
        ("response.function_call_arguments.delta", true),
        ("response.custom_tool_call_input.done", true),
        ("response.reasoning_summary_text.delta", true),
        ("keepalive", false),
    ] {
        let data = format!(r#"{{"type":"{kind}","sequence_number":1}}"#);
        assert_eq!(
            reader.inspect(None, data.as_bytes()),
            Disposition::Forward { content },
            "{kind}"
        );
    }
    assert_eq!(
        reader.inspect(None, b"[DONE]"),
        Disposition::Forward { content: false }
    );
}
