//! The phone thread of [`crate::driver::PhoneDriver`].

use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};

use crate::board::AudioFrame;
use crate::driver::{Command, DriverOptions, OutputFn};
use crate::error::CoreError;
use crate::phone::PhoneStatus;

pub(crate) fn run(
    _config: ac_cfg::Config,
    _options: DriverOptions,
    _output: OutputFn,
    cmd: Receiver<Command>,
    _capture: Receiver<AudioFrame>,
    _playback: Sender<AudioFrame>,
    _status: Arc<Mutex<PhoneStatus>>,
) -> Result<(), CoreError> {
    while let Ok(c) = cmd.recv() {
        if matches!(c, Command::Stop) {
            break;
        }
    }
    Ok(())
}
