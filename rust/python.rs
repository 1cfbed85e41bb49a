//! The Python boundary, `weir._native`: the only file that uses PyO3. Primitives cross it
//! (bytes, str, int, tuples); the work is done by the plain Rust modules.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

use crate::sse::{SseError, SseFramer, DEFAULT_MAX_LINE_BYTES};
use crate::tap::StreamTap;
use crate::tokens::{self, Encoding};
use crate::usage::{anthropic_messages, gemini, openai_chat, openai_responses, Dialect, Usage};

/// (input, cached, output, reasoning, cache_write), as weir.canonical.usage.Usage takes them.
type UsageTuple = (u64, u64, u64, u64, u64);

fn usage_tuple(usage: Usage) -> UsageTuple {
    (
        usage.input,
        usage.cached,
        usage.output,
        usage.reasoning,
        usage.cache_write,
    )
}

fn value_error(err: SseError) -> PyErr {
    PyValueError::new_err(err.to_string())
}

type EventTuple<'py> = (Option<Bound<'py, PyString>>, Bound<'py, PyBytes>);

fn event_tuple<'py>(py: Python<'py>, event: Option<&[u8]>, data: &[u8]) -> EventTuple<'py> {
    let event = event.map(|name| PyString::new(py, &String::from_utf8_lossy(name)));
    (event, PyBytes::new(py, data))
}

/// Splits an SSE byte stream into events.
#[pyclass(name = "SseFramer", module = "weir._native")]
struct PySseFramer {
    inner: SseFramer,
}

#[pymethods]
impl PySseFramer {
    #[new]
    #[pyo3(signature = (max_line_bytes = DEFAULT_MAX_LINE_BYTES))]
    fn new(max_line_bytes: usize) -> Self {
        PySseFramer {
            inner: SseFramer::new(max_line_bytes),
        }
    }

    fn feed<'py>(&mut self, py: Python<'py>, chunk: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let mut events = Vec::new();
        self.inner
            .feed_with(chunk, |block| {
                if let Some(data) = block.data {
                    events.push(event_tuple(py, block.event, data));
                }
            })
            .map_err(value_error)?;
        PyList::new(py, events)
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut events = Vec::new();
        self.inner
            .finish_with(|block| {
                if let Some(data) = block.data {
                    events.push(event_tuple(py, block.event, data));
                }
            })
            .map_err(value_error)?;
        PyList::new(py, events)
    }
}

/// Forwards an upstream SSE stream verbatim while reading its usage.
#[pyclass(name = "StreamTap", module = "weir._native")]
struct PyStreamTap {
    inner: StreamTap,
    /// Reused output buffer.
    out: Vec<u8>,
}

#[pymethods]
impl PyStreamTap {
    #[new]
    #[pyo3(signature = (dialect, max_line_bytes = DEFAULT_MAX_LINE_BYTES))]
    fn new(dialect: &str, max_line_bytes: usize) -> PyResult<Self> {
        let dialect = Dialect::from_name(dialect)
            .ok_or_else(|| PyValueError::new_err(format!("unknown dialect: {dialect:?}")))?;
        Ok(PyStreamTap {
            inner: StreamTap::new(dialect, max_line_bytes),
            out: Vec::new(),
        })
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        chunk: Bound<'py, PyBytes>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.out.clear();
        self.inner
            .feed_into(chunk.as_bytes(), &mut self.out)
            .map_err(value_error)?;
        if self.out.as_slice() == chunk.as_bytes() {
            return Ok(chunk); // the common case: whole blocks in, the same bytes out
        }
        Ok(PyBytes::new(py, &self.out))
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.out.clear();
        self.inner.finish_into(&mut self.out).map_err(value_error)?;
        Ok(PyBytes::new(py, &self.out))
    }

    #[getter]
    fn usage(&self) -> Option<UsageTuple> {
        self.inner.usage().map(usage_tuple)
    }

    #[getter]
    fn usage_data<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.usage_data().map(|data| PyBytes::new(py, data))
    }

    #[getter]
    fn tail<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.tail())
    }

    #[getter]
    fn complete(&self) -> bool {
        self.inner.complete()
    }

    #[getter]
    fn data_events(&self) -> u64 {
        self.inner.data_events()
    }
}

/// The usage of a non-streaming OpenAI chat.completion body.
#[pyfunction]
fn openai_usage(body: &[u8]) -> Option<UsageTuple> {
    openai_chat::usage_from_json(body).map(usage_tuple)
}

/// The usage of a non-streaming Anthropic message body.
#[pyfunction]
fn anthropic_usage(body: &[u8]) -> Option<UsageTuple> {
    anthropic_messages::usage_from_json(body).map(usage_tuple)
}

/// The usage of a non-streaming OpenAI Responses `response` body.
#[pyfunction]
fn responses_usage(body: &[u8]) -> Option<UsageTuple> {
    openai_responses::usage_from_json(body).map(usage_tuple)
}

/// The usage of a non-streaming Gemini GenerateContentResponse body.
#[pyfunction]
fn gemini_usage(body: &[u8]) -> Option<UsageTuple> {
    gemini::usage_from_json(body).map(usage_tuple)
}

/// Texts at least this long (in UTF-8 bytes, in total) are counted with the GIL released.
const DETACH_BYTES: usize = 4096;

fn encoding_of(name: &str) -> PyResult<Encoding> {
    Encoding::from_name(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown encoding: {name:?}")))
}

/// The text of a str as UTF-8. A str holding lone surrogates has no UTF-8 form: it is read
/// the way OpenAI's tiktoken reads it (through UTF-16, each lone surrogate becoming U+FFFD).
fn text_of<'a>(text: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    if let Ok(utf8) = text.to_str() {
        return Ok(Cow::Borrowed(utf8));
    }
    let utf16 = text.call_method1("encode", ("utf-16", "surrogatepass"))?;
    let fixed = utf16.call_method1("decode", ("utf-16", "replace"))?;
    Ok(Cow::Owned(
        fixed.cast_into::<PyString>()?.to_str()?.to_owned(),
    ))
}

/// Counts without holding the GIL when the work is long: a long text, or the first use of an
/// encoding (building its vocabulary takes tens to hundreds of milliseconds).
fn count_detached<T: Send>(
    py: Python<'_>,
    bytes: usize,
    encoding: Encoding,
    texts: T,
    count: impl FnOnce(T, Encoding) -> usize + Send,
) -> usize {
    if bytes >= DETACH_BYTES || !encoding.is_loaded() {
        py.detach(|| count(texts, encoding))
    } else {
        count(texts, encoding)
    }
}

/// The number of tokens of `text` in a tiktoken encoding, special tokens counted as text.
#[pyfunction]
fn count_tokens(py: Python<'_>, text: Bound<'_, PyString>, encoding: &str) -> PyResult<usize> {
    let encoding = encoding_of(encoding)?;
    let text = text_of(&text)?;
    let text: &str = &text;
    Ok(count_detached(
        py,
        text.len(),
        encoding,
        text,
        tokens::count,
    ))
}

/// The total number of tokens of several texts (each counted on its own).
#[pyfunction]
fn count_tokens_many(
    py: Python<'_>,
    texts: Vec<Bound<'_, PyString>>,
    encoding: &str,
) -> PyResult<usize> {
    let encoding = encoding_of(encoding)?;
    let texts = texts.iter().map(text_of).collect::<PyResult<Vec<_>>>()?;
    let bytes = texts.iter().map(|text| text.len()).sum();
    Ok(count_detached(
        py,
        bytes,
        encoding,
        &texts[..],
        tokens::count_many,
    ))
}

#[pymodule(gil_used = false)]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PySseFramer>()?;
    module.add_class::<PyStreamTap>()?;
    module.add_function(wrap_pyfunction!(openai_usage, module)?)?;
    module.add_function(wrap_pyfunction!(anthropic_usage, module)?)?;
    module.add_function(wrap_pyfunction!(responses_usage, module)?)?;
    module.add_function(wrap_pyfunction!(gemini_usage, module)?)?;
    module.add_function(wrap_pyfunction!(count_tokens, module)?)?;
    module.add_function(wrap_pyfunction!(count_tokens_many, module)?)?;
    Ok(())
}
