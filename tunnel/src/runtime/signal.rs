//! SIGTERM and SIGINT as a readable socket in the loop (the self-pipe pattern): the handler
//! only writes a byte, the loop does the shutting down.

use mio::net::UnixStream;
use std::io::{self, Read};
use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end the handler uses (-1: none installed).
static PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// The read end: readable once a termination signal arrived.
pub struct Signals {
    pub receiver: UnixStream,
}

impl Signals {
    /// Installs the handlers for SIGTERM and SIGINT. One process has one set: a second call
    /// takes the signals over from the first.
    pub fn install() -> io::Result<Signals> {
        let (sender, receiver) = std::os::unix::net::UnixStream::pair()?;
        sender.set_nonblocking(true)?;
        receiver.set_nonblocking(true)?;
        let old = PIPE.swap(sender.into_raw_fd(), Ordering::SeqCst);
        if old >= 0 {
            // SAFETY: `old` came from `into_raw_fd` above in an earlier call and is closed once.
            unsafe {
                libc::close(old);
            }
        }
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: the handler only calls write(2) on a descriptor that stays open.
            let previous = unsafe {
                libc::signal(
                    signal,
                    on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
                )
            };
            if previous == libc::SIG_ERR {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Signals {
            receiver: UnixStream::from_std(receiver),
        })
    }

    /// Whether a signal arrived (drains the pipe).
    pub fn take(&mut self) -> bool {
        let mut buf = [0u8; 16];
        let mut any = false;
        while let Ok(n) = self.receiver.read(&mut buf) {
            if n == 0 {
                break;
            }
            any = true;
        }
        any
    }
}
