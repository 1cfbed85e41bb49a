use super::*;

fn values(doc: &[u8]) -> Vec<usize> {
    KeyFinder::new(b"\"usage\"").values(doc).collect()
}

#[test]
fn finds_keys_not_strings() {
    assert_eq!(values(br#"{"usage":1}"#), vec![9]);
    assert_eq!(values(b"{\"usage\" \r\n: \t2}"), vec![14]);
    // A value "usage", an escaped quote, a key ending in usage, a key at the very end.
    assert!(values(br#"{"a":"usage","b":"say \"usage\": 1","c \"usage":{},"usage""#).is_empty());
    assert_eq!(values(br#"{"a":"\\","usage":3}"#), vec![18]);
    assert_eq!(values(br#"{"x":{"usage":1},"usage":2}"#), vec![14, 25]);
}

#[test]
fn dialect_names_round_trip() {
    for dialect in [
        Dialect::OpenAiChat,
        Dialect::AnthropicMessages,
        Dialect::OpenAiResponses,
        Dialect::Gemini,
    ] {
        assert_eq!(Dialect::from_name(dialect.name()), Some(dialect));
    }
    assert_eq!(Dialect::OpenAiChat.name(), "openai_chat");
    assert_eq!(Dialect::AnthropicMessages.name(), "anthropic_messages");
    assert_eq!(Dialect::OpenAiResponses.name(), "openai_responses");
    assert_eq!(Dialect::Gemini.name(), "gemini");
    assert_eq!(Dialect::from_name("OpenAI"), None);
    assert_eq!(Dialect::from_name("anthropic"), None);
    assert_eq!(Dialect::from_name("responses"), None);
    assert_eq!(Dialect::from_name("Gemini"), None);
}

fn top_type(doc: &[u8]) -> Option<&[u8]> {
    top_level_str(doc, b"type")
}

#[test]
fn top_level_keys_only() {
    assert_eq!(top_type(br#"{"type":"ping"}"#), Some(&b"ping"[..]));
    assert_eq!(top_type(b" {\n\"type\" :\t\"a\" }"), Some(&b"a"[..]));
    // Nested keys, keys inside strings and escaped quotes are stepped over.
    let doc = br#"{"message":{"type":"message","content":[{"type":"x","s":"}]\"type\":1"}]},
        "n":-1.5e3,"t":true,"z":null,"e":{},"a":[],"k\"type":"no","type":"message_start"}"#;
    assert_eq!(top_type(doc), Some(&b"message_start"[..]));
    assert_eq!(top_type(br#"{"type":"a","type":"b"}"#), Some(&b"a"[..]));
    assert_eq!(
        top_type(br#"{"type":"say \"hi\""}"#),
        Some(&br#"say \"hi\""#[..])
    );
    assert_eq!(
        top_level_value(br#"{"a":1,"usage":{"x":2}}"#, b"usage"),
        Some(15)
    );
}

#[test]
fn top_level_misses() {
    for doc in [
        &br#"{"a":{"type":"nested"}}"#[..],
        br#"{"type":3}"#,
        br#"["type","x"]"#,
        br#"{"a":"unterminated"#,
        br#"{"a":"x\"#,
        br#"{"a":[1,2"#,
        br#"{"a":1 "type":"x"}"#,
        br#"{"a" 1,"type":"x"}"#,
        br#"{"type":"#,
        br#"{"type""#,
        b"",
        b"{",
        b"[DONE]",
    ] {
        assert_eq!(top_type(doc), None, "{}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn counts_are_tolerant() {
    let counts: Vec<Count> = serde_json::from_str("[3, null, -4, 2.9, 1e30]").unwrap();
    assert_eq!(
        counts,
        vec![Count(3), Count(0), Count(0), Count(2), Count(u64::MAX)]
    );
    assert!(serde_json::from_str::<Count>("\"3\"").is_err());
}

fn entries(doc: &[u8]) -> Vec<(&[u8], usize)> {
    top_level_entries(doc).collect()
}

#[test]
fn top_level_entries_in_order() {
    let doc = br#"{"a":{"a":1},"b" : "x\"}", "c":[1,{"d":2}],"e":-1}"#;
    let found = entries(doc);
    let names: Vec<&[u8]> = found.iter().map(|&(name, _)| name).collect();
    assert_eq!(names, [&b"a"[..], b"b", b"c", b"e"]);
    for (name, at) in found {
        let first = doc[at];
        match name {
            b"a" | b"b" | b"c" => assert!(matches!(first, b'{' | b'"' | b'[')),
            _ => assert_eq!(&doc[at..at + 2], b"-1"),
        }
    }
    assert!(entries(b" { } ").is_empty());
    assert!(entries(b"[1]").is_empty());
    assert!(entries(b"").is_empty());
}

#[test]
fn top_level_entries_stop_where_malformed() {
    // Entries before the fault are handed out; nothing after it.
    let names = |doc: &'static [u8]| -> Vec<&'static [u8]> {
        top_level_entries(doc).map(|(name, _)| name).collect()
    };
    assert_eq!(names(br#"{"a":1 "b":2}"#), [&b"a"[..]]);
    assert_eq!(names(br#"{"a":[1,2,"b":2}"#), [&b"a"[..]]);
    assert_eq!(names(br#"{"a":1,"b""#), [&b"a"[..]]);
    assert_eq!(names(br#"{"a":1,"b":"#), [&b"a"[..]]);
    assert_eq!(names(br#"{"a":1,}"#), [&b"a"[..]]);
}
