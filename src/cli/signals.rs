//! Signals while training: the first SIGINT (Ctrl-C), SIGTERM (`timeout`, `docker stop`, Slurm)
//! or SIGHUP (a closed terminal) asks the session to stop after the step under way, which then
//! saves; a second one exits at once. The run then exits with 128 + the signal's number.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use wgtrain::StopToken;

/// The signal that stopped the run, once one has.
pub struct Watch {
    caught: Arc<AtomicI32>,
}

/// SIGINT's number, what a non-Unix Ctrl-C counts as.
const SIGINT: i32 = 2;

/// A line on stderr that cannot fail the run (after SIGHUP the terminal may be gone).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        15 => "SIGTERM",
        _ => "interrupted",
    }
}

/// What to do on signal `signal`: stop `token` the first time, exit the second.
fn caught(signal: i32, token: &StopToken, record: &AtomicI32) {
    if token.is_stopped() {
        say(&format!("\n{} again: exiting without saving", name(signal)));
        std::process::exit(128 + signal);
    }
    say(&format!(
        "\n{}: finishing the step under way (on the GPU, the steps already submitted), then saving",
        name(signal)
    ));
    record.store(signal, Ordering::SeqCst);
    token.stop();
}

impl Watch {
    /// Watches SIGINT, SIGTERM and SIGHUP (Ctrl-C elsewhere) for the run `token` stops.
    pub fn start(token: StopToken) -> anyhow::Result<Watch> {
        let record = Arc::new(AtomicI32::new(0));
        let mine = record.clone();
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    caught(signal, &token, &mine);
                }
            });
        }
        #[cfg(not(unix))]
        {
            let _ = ctrlc::set_handler(move || caught(SIGINT, &token, &mine));
        }
        Ok(Watch { caught: record })
    }

    /// The exit status of a stopped run: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM,
    /// 129 for SIGHUP).
    pub fn exit_code(&self) -> i32 {
        match self.caught.load(Ordering::SeqCst) {
            0 => 128 + SIGINT,
            s => 128 + s,
        }
    }
}
