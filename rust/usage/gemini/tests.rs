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

fn forward(content: bool) -> Disposition {
    Disposition::Forward { content }
}

fn last(content: bool) -> Disposition {
    Disposition::ForwardLast { content }
}

#[test]
fn reads_a_response_body() {
    let body = br#"{"candidates":[{"content":{"role":"model","parts":[{"functionCall":
        {"name":"log","args":{"usageMetadata":{"promptTokenCount":1}}}}]},"finishReason":"STOP"}],
        "usageMetadata" : {"promptTokenCount":2113,"candidatesTokenCount":15,
          "thoughtsTokenCount":40,"cachedContentTokenCount":2048,"toolUsePromptTokenCount":7,
          "totalTokenCount":2175,"promptTokensDetails":[{"modality":"TEXT","tokenCount":2113}]},
        "modelVersion":"gemini-2.5-flash"}"#;
    assert_eq!(usage_from_json(body), usage(2120, 2048, 55, 40, 0));
}

#[test]
fn weirs_cache_writes_are_read() {
    let body = br#"{"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":3,
        "cachedContentTokenCount":60,"cacheWriteTokenCount":30}}"#;
    assert_eq!(usage_from_json(body), usage(100, 60, 3, 0, 30));
}

#[test]
fn missing_and_null_counts_are_zero() {
    assert_eq!(
        usage_from_json(br#"{"usageMetadata":{"promptTokenCount":9}}"#),
        usage(9, 0, 0, 0, 0)
    );
    assert_eq!(
        usage_from_json(
            br#"{"usageMetadata":{"promptTokenCount":412,"candidatesTokenCount":null,
            "thoughtsTokenCount":58}}"#
        ),
        usage(412, 0, 58, 58, 0)
    );
}

#[test]
fn body_without_usage() {
    for body in [
        &br#"{"candidates":[],"usageMetadata":null}"#[..],
        br#"{"usageMetadata":{"totalTokenCount":3}}"#,
        br#"{"usageMetadata":{}}"#,
        br#"{"usageMetadata":[1]}"#,
        br#"{"usageMetadata":{"promptTokenCount":"many"}}"#,
        br#"{"usageMetadata":{"promptTokenCount":3,"cand"#,
        br#"{"candidates":[{"usageMetadata":{"promptTokenCount":1}}]}"#,
        b"",
        b"[{}]",
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
fn the_last_usage_seen_counts_and_finish_ends_the_stream() {
    let mut reader = GeminiReader::default();
    assert_eq!(reader.usage(), None);
    let first = br#"{"candidates":[{"content":{"parts":[{"text":"It is"}],"role":"model"},
        "index":0}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":2}}"#;
    assert_eq!(reader.inspect(None, first), forward(true));
    assert_eq!(reader.usage(), usage(9, 0, 2, 0, 0));
    let no_usage = br#"{"candidates":[{"content":{"parts":[{"text":" 18"}]}}]}"#;
    assert_eq!(reader.inspect(None, no_usage), forward(true));
    assert_eq!(reader.usage(), usage(9, 0, 2, 0, 0));
    let end = br#"{"candidates":[{"content":{"parts":[{"text":"C."}],"role":"model"},
        "finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,
        "candidatesTokenCount":5,"thoughtsTokenCount":40,"cachedContentTokenCount":0}}"#;
    assert_eq!(reader.inspect(None, end), last(true));
    assert_eq!(reader.usage(), usage(9, 0, 45, 40, 0));
}

#[test]
fn only_a_candidates_finish_reason_counts() {
    let mut reader = GeminiReader::default();
    for data in [
        // In a function call's arguments, in a text, null, empty, unspecified.
        &br#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f",
            "args":{"finishReason":"STOP"}}}]}}]}"#[..],
        br#"{"candidates":[{"content":{"parts":[{"text":"\"finishReason\":\"STOP\""}]}}]}"#,
        br#"{"candidates":[{"finishReason":null}]}"#,
        br#"{"candidates":[{"finishReason":""}]}"#,
        br#"{"candidates":[{"finishReason":"FINISH_REASON_UNSPECIFIED"}]}"#,
        br#"{"meta":{"finishReason":"STOP"},"candidates":[{"index":0}]}"#,
    ] {
        assert_eq!(
            reader.inspect(None, data),
            forward(true),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    let cut = br#"{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTok"#;
    assert_eq!(reader.inspect(None, cut), forward(true));
    let second_of_two = br#"{"candidates":[{"index":0},{"index":1,"finishReason":"MAX_TOKENS"}]}"#;
    assert_eq!(reader.inspect(None, second_of_two), last(true));
}

#[test]
fn errors_and_blocked_prompts_end_the_stream() {
    let mut reader = GeminiReader::default();
    let error = br#"{"error": {"code": 503, "message": "The model is overloaded.",
        "status": "UNAVAILABLE"}}"#;
    assert_eq!(reader.inspect(None, error), last(false));
    assert_eq!(reader.usage(), None);
    assert_eq!(
        reader.inspect(None, br#"{"error":"just text"}"#),
        forward(false)
    );
    assert_eq!(
        reader.inspect(None, br#"{"error": {"code": 503, "mess"#),
        forward(false)
    );
    let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},
        "usageMetadata":{"promptTokenCount":8,"totalTokenCount":8}}"#;
    assert_eq!(reader.inspect(None, blocked), last(false));
    assert_eq!(reader.usage(), usage(8, 0, 0, 0, 0));
    let feedback = br#"{"promptFeedback":{"safetyRatings":[]},"candidates":[{"index":0}]}"#;
    assert_eq!(reader.inspect(None, feedback), forward(true));
}

#[test]
fn what_is_not_a_chunk_is_forwarded() {
    let mut reader = GeminiReader::default();
    for data in [
        &b"[DONE]"[..],
        b"",
        b"not json",
        b"[1,2]",
        b"{\"candidates\":",
    ] {
        assert_eq!(reader.inspect(None, data), forward(false));
    }
    assert_eq!(reader.usage(), None);
}
