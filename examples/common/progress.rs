//! A progress bar on stderr, drawn from the transfer engine's progress events.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use elb_core::blob::{ProgressCallback, ProgressEvent, ProgressStage};

use crate::outcome::format_bytes;

/// Number of characters of the bar itself.
const BAR_WIDTH: usize = 30;

/// A progress bar for one transfer.
///
/// On a terminal it redraws one line in place. Otherwise, as when a test captures stderr,
/// it writes only the final line, so logs stay short.
#[derive(Clone)]
pub struct ProgressBar {
    label: String,
    interactive: bool,
    last: Arc<Mutex<Option<ProgressEvent>>>,
}

impl ProgressBar {
    /// Creates a bar whose lines start with `label`.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            interactive: std::io::stderr().is_terminal(),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// Returns the callback to pass as a transfer's `progress` option.
    pub fn callback(&self) -> ProgressCallback {
        let bar = self.clone();
        Arc::new(move |event: &ProgressEvent| bar.update(event))
    }

    /// Returns the most recent event, once the transfer has sent one.
    pub fn last_event(&self) -> Option<ProgressEvent> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, event: &ProgressEvent) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(event.clone());
        let finished = event.stage == ProgressStage::Finished;
        if !self.interactive && !finished {
            return;
        }
        let line = render(&self.label, event);
        let mut stderr = std::io::stderr().lock();
        // A failed write to stderr only loses the bar, so it is ignored.
        let _ = if self.interactive {
            write!(stderr, "\r\x1b[2K{line}")
        } else {
            Ok(())
        };
        if finished {
            let _ = if self.interactive {
                writeln!(stderr)
            } else {
                writeln!(stderr, "{line}")
            };
        }
        let _ = stderr.flush();
    }
}

/// Renders one line: the label, the bar, the percentage and the counts.
pub fn render(label: &str, event: &ProgressEvent) -> String {
    let fraction = if event.bytes_total > 0 {
        event.bytes_done as f64 / event.bytes_total as f64
    } else if event.files_total > 0 {
        event.files_done as f64 / event.files_total as f64
    } else {
        1.0
    };
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * BAR_WIDTH as f64).round() as usize;
    let mut line = format!(
        "{label} [{}{}] {:>3}% {}/{} files, {} of {}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        (fraction * 100.0).round() as u32,
        event.files_done,
        event.files_total,
        format_bytes(event.bytes_done),
        format_bytes(event.bytes_total),
    );
    if event.files_failed > 0 {
        line.push_str(&format!(", {} failed", event.files_failed));
    }
    line
}
