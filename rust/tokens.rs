//! Token counting with OpenAI's BPE encodings (the `tiktoken-rs` crate, whose vocabularies are
//! compiled into the extension: nothing is fetched at build or run time).
//!
//! Counts are of ordinary text: special-token strings such as `<|endoftext|>` are counted as
//! the plain text they are, never as special tokens.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

/// The encodings the gateway counts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, GPT-5, o-series.
    O200kBase,
    /// GPT-4, GPT-3.5-turbo, text-embedding-3.
    Cl100kBase,
}

static O200K_BASE: OnceLock<CoreBPE> = OnceLock::new();
static CL100K_BASE: OnceLock<CoreBPE> = OnceLock::new();

impl Encoding {
    pub const ALL: [Encoding; 2] = [Encoding::O200kBase, Encoding::Cl100kBase];

    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "o200k_base" => Some(Encoding::O200kBase),
            "cl100k_base" => Some(Encoding::Cl100kBase),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    fn cell(self) -> &'static OnceLock<CoreBPE> {
        match self {
            Encoding::O200kBase => &O200K_BASE,
            Encoding::Cl100kBase => &CL100K_BASE,
        }
    }

    /// Whether the vocabulary is built already. The first use builds it: 0.1-0.3 s, and about
    /// 45 MB of resident memory for o200k_base, 25 MB for cl100k_base (measured).
    pub fn is_loaded(self) -> bool {
        self.cell().get().is_some()
    }

    /// The encoder, built on first use, once per process.
    pub fn bpe(self) -> &'static CoreBPE {
        self.cell().get_or_init(|| {
            let built = match self {
                Encoding::O200kBase => tiktoken_rs::o200k_base(),
                Encoding::Cl100kBase => tiktoken_rs::cl100k_base(),
            };
            // The vocabularies are compiled in and the unit tests build both, so this
            // cannot fail at run time.
            built.expect("the bundled vocabulary builds")
        })
    }
}

/// The number of tokens `text` encodes to, special-token strings counted as ordinary text.
pub fn count(text: &str, encoding: Encoding) -> usize {
    if text.is_empty() {
        return 0;
    }
    encoding.bpe().encode_ordinary(text).len()
}

/// The total count of several texts (each encoded on its own).
pub fn count_many<S: AsRef<str>>(texts: &[S], encoding: Encoding) -> usize {
    texts
        .iter()
        .map(|text| count(text.as_ref(), encoding))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts from OpenAI's own `tiktoken` (Python, 0.14.0) for the same strings.
    const KNOWN: &[(&str, usize, usize)] = &[
        // (text, o200k_base, cl100k_base)
        ("hello world", 2, 2),
        ("", 0, 0),
        (" ", 1, 1),
        ("Hello, world!", 4, 4),
        ("<|endoftext|>", 7, 7),
    ];

    #[test]
    fn names_round_trip() {
        for encoding in Encoding::ALL {
            assert_eq!(Encoding::from_name(encoding.name()), Some(encoding));
        }
        assert_eq!(Encoding::from_name("p50k_base"), None);
        assert_eq!(Encoding::from_name("O200K_BASE"), None);
    }

    #[test]
    fn known_counts() {
        for &(text, o200k, cl100k) in KNOWN {
            assert_eq!(
                count(text, Encoding::O200kBase),
                o200k,
                "o200k_base {text:?}"
            );
            assert_eq!(
                count(text, Encoding::Cl100kBase),
                cl100k,
                "cl100k_base {text:?}"
            );
        }
    }

    #[test]
    fn agrees_with_the_crate() {
        let texts = [
            "hello world",
            "Bonjour ! Il fait 18 °C à Paris.\nÀ bientôt 👋",
            "def f(x):\n    return x ** 2  # squares\n\n\n",
            "日本語のテキストとemoji 🎉🎉🎉, and numbers 1234567890",
            "   leading and trailing spaces   ",
            "<|endoftext|> <|fim_prefix|> are plain text here",
            "{\"usage\": {\"prompt_tokens\": 12}}\r\n",
        ];
        for encoding in Encoding::ALL {
            let bpe = encoding.bpe();
            for text in texts {
                let special = bpe.encode_with_special_tokens(text).len();
                let ordinary = bpe.encode_ordinary(text).len();
                assert_eq!(count(text, encoding), ordinary, "{text:?}");
                if !text.contains("<|") {
                    assert_eq!(ordinary, special, "{text:?}");
                }
            }
            // Special-token strings count as text, so more than the one special token.
            let marker = "<|endoftext|>";
            assert_eq!(bpe.encode_with_special_tokens(marker).len(), 1);
            assert!(count(marker, encoding) > 1);
        }
    }

    #[test]
    fn long_text() {
        let sentence = "The quick brown fox jumps over the lazy dog.";
        let text = format!("{sentence} ").repeat(5000);
        for encoding in Encoding::ALL {
            assert_eq!(count(sentence, encoding), 10);
            // Each later sentence starts with " The"; the final space is a token of its own
            // (OpenAI's tiktoken gives 50001 too).
            assert_eq!(count(&text, encoding), 50_001);
            assert_eq!(count_many(&vec![sentence; 5000], encoding), 50_000);
        }
    }

    #[test]
    fn pathological_runs() {
        // Long single pieces for the regex and the BPE merge (counts from OpenAI's tiktoken).
        let cases = [
            ("a".repeat(200_000), 25_000, 25_000),
            (" ".repeat(200_000), 1563, 1563),
            ("\n".repeat(50_000), 3125, 1563),
        ];
        for (text, o200k, cl100k) in cases {
            assert_eq!(count(&text, Encoding::O200kBase), o200k);
            assert_eq!(count(&text, Encoding::Cl100kBase), cl100k);
        }
    }

    #[test]
    fn count_many_sums() {
        assert_eq!(count_many::<&str>(&[], Encoding::O200kBase), 0);
        assert_eq!(
            count_many(&["hello world", "", "hello world"], Encoding::Cl100kBase),
            4
        );
    }
}
