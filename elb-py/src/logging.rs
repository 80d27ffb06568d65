//! Forwarding of Rust `tracing` events to Python's `logging` under the `elb` logger.
//!
//! An event with target `elb_core::blob::upload` goes to the logger `elb.blob.upload`; an
//! event from another crate (`azure_core::http`) goes to `elb.azure_core.http`. Span fields
//! (`blob.container`, `k8s.job`) are appended to the message and also set on the record as
//! the dict `elb_fields`.
//!
//! The layer keeps the lowest level enabled on any `elb` logger in an atomic, so an event
//! that no Python logger would emit costs no GIL acquisition. Every elb_py call refreshes
//! that level while it still holds the GIL, so `setLevel` takes effect from the next call.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::errors::redact_secrets;

/// The name of the parent Python logger of every elb_py record.
const ROOT_LOGGER: &str = "elb";

/// The lowest Python level enabled on any `elb` logger; starts at `WARNING`, Python's
/// default for the root logger.
static THRESHOLD: AtomicU32 = AtomicU32::new(30);

/// Installs the forwarding layer as this extension's global `tracing` subscriber.
///
/// The subscriber is global to the extension module only, because the extension links its
/// own copy of `tracing`. A second call does nothing.
pub(crate) fn install(py: Python<'_>) {
    refresh_level(py);
    let subscriber = tracing_subscriber::registry().with(PythonLogLayer);
    // An error means a subscriber is already installed, which is the state we want.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Reads the lowest level that any `elb` logger emits and stores it for the layer.
///
/// Failures leave the previous level in place: logging must never break an operation.
pub(crate) fn refresh_level(py: Python<'_>) {
    if let Ok(level) = lowest_enabled_level(py) {
        THRESHOLD.store(level, Ordering::Relaxed);
    }
}

fn lowest_enabled_level(py: Python<'_>) -> PyResult<u32> {
    let logging = py.import("logging")?;
    let root_logger = logging.call_method1("getLogger", (ROOT_LOGGER,))?;
    let mut lowest: u32 = root_logger.call_method0("getEffectiveLevel")?.extract()?;

    let logger_class = logging.getattr("Logger")?;
    let manager = root_logger.getattr("manager")?;
    let logger_dict = manager.getattr("loggerDict")?.cast_into::<PyDict>()?;
    let prefix = format!("{ROOT_LOGGER}.");
    for (name, logger) in logger_dict.iter() {
        let Ok(name) = name.extract::<&str>() else {
            continue;
        };
        if name.starts_with(&prefix) && logger.is_instance(&logger_class)? {
            let level: u32 = logger.call_method0("getEffectiveLevel")?.extract()?;
            lowest = lowest.min(level);
        }
    }

    // `logging.disable(level)` suppresses that level and everything below it.
    let disabled: u32 = manager.getattr("disable")?.extract()?;
    Ok(lowest.max(disabled.saturating_add(1)))
}

/// Returns the Python `logging` level number for a `tracing` level.
fn python_level(level: &Level) -> u32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Returns the Python logger name for a `tracing` target.
fn logger_name(target: &str) -> String {
    let path = match target.strip_prefix("elb_core::") {
        Some(inner) => inner,
        None if target == "elb_core" => "core",
        None => target,
    };
    format!("{ROOT_LOGGER}.{}", path.replace("::", "."))
}

/// Collects an event's message and fields as text, and its fields as pairs.
#[derive(Default)]
struct FieldText {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields
                .push((field.name().to_owned(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields
                .push((field.name().to_owned(), format!("{value:?}")));
        }
    }
}

/// The fields of a span, stored in its extensions.
struct SpanFields(Vec<(String, String)>);

/// A `tracing` layer that forwards events to Python's `logging`.
struct PythonLogLayer;

impl<S> Layer<S> for PythonLogLayer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Python loggers change level at run time, so every callsite is checked each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(text.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        values.record(&mut text);
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<SpanFields>() {
                fields.0.extend(text.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut text = FieldText::default();
        event.record(&mut text);

        // Span fields go first, from the outermost span in.
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.0.iter().cloned());
                }
            }
        }
        fields.extend(text.fields);

        let mut message = text.message;
        for (name, value) in &fields {
            let _ = write!(message, " {name}={value}");
        }
        let record = ForwardedRecord {
            logger: logger_name(event.metadata().target()),
            level: python_level(event.metadata().level()),
            message: redact_secrets(&message),
            fields,
            file: event.metadata().file().unwrap_or("<rust>"),
            line: event.metadata().line().unwrap_or(0),
            function: event.metadata().target(),
        };
        Python::attach(|py| {
            if let Err(error) = record.emit(py) {
                // A broken handler must not break the operation that logged.
                error.write_unraisable(py, None);
            }
        });
    }
}

/// One event, ready to become a `logging.LogRecord`.
struct ForwardedRecord<'a> {
    logger: String,
    level: u32,
    message: String,
    fields: Vec<(String, String)>,
    file: &'a str,
    line: u32,
    function: &'a str,
}

impl ForwardedRecord<'_> {
    fn emit(&self, py: Python<'_>) -> PyResult<()> {
        let logging = py.import("logging")?;
        let logger = logging.call_method1("getLogger", (self.logger.as_str(),))?;
        if !logger
            .call_method1("isEnabledFor", (self.level,))?
            .is_truthy()?
        {
            return Ok(());
        }

        let field_dict = PyDict::new(py);
        for (name, value) in &self.fields {
            field_dict.set_item(name, redact_secrets(value))?;
        }
        let extra = PyDict::new(py);
        extra.set_item("elb_fields", field_dict)?;

        let record = logger.call_method1(
            "makeRecord",
            (
                self.logger.as_str(),
                self.level,
                self.file,
                self.line,
                self.message.as_str(),
                pyo3::types::PyTuple::empty(py),
                py.None(),
                self.function,
                extra,
            ),
        )?;
        logger.call_method1("handle", (record,))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_name_strips_core_crate() {
        assert_eq!(logger_name("elb_core::blob::upload"), "elb.blob.upload");
        assert_eq!(logger_name("elb_core"), "elb.core");
    }

    #[test]
    fn logger_name_keeps_other_crates() {
        assert_eq!(logger_name("azure_core::http"), "elb.azure_core.http");
        assert_eq!(logger_name("elb_py::runtime"), "elb.elb_py.runtime");
    }

    #[test]
    fn python_level_matches_logging_numbers() {
        assert_eq!(python_level(&Level::ERROR), 40);
        assert_eq!(python_level(&Level::WARN), 30);
        assert_eq!(python_level(&Level::INFO), 20);
        assert_eq!(python_level(&Level::DEBUG), 10);
        assert_eq!(python_level(&Level::TRACE), 5);
    }
}
