//! Ctrl-C during a download leaves no partial file.
//!
//! Downloads are written to a temporary file next to the target and renamed
//! at the end; dropping it removes it, but a signal ends the process without
//! running destructors. While a download is written, a handler for SIGINT,
//! SIGTERM and SIGHUP deletes that temporary file (`unlink` is
//! async-signal-safe), restores the default action and raises the signal
//! again, so the command still ends the way an interrupted program does
//! (status 130 for Ctrl-C). No dependency beyond `libc`, which the tree
//! already has. On other platforms nothing is installed.

#[cfg(unix)]
mod imp {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Once;
    use std::sync::atomic::{AtomicPtr, Ordering};

    /// The temporary file to delete on a signal (null: none).
    static TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
    static INSTALL: Once = Once::new();
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    extern "C" fn on_signal(sig: libc::c_int) {
        let p = TEMP.swap(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: `p` is null or a NUL-terminated string leaked by `protect`
        // and never freed; unlink, signal and raise are async-signal-safe.
        unsafe {
            if !p.is_null() {
                libc::unlink(p);
            }
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }

    /// Delete `temp` if a signal ends the process before [`release`].
    pub fn protect(temp: &Path) {
        let Ok(c) = CString::new(temp.as_os_str().as_bytes()) else {
            return;
        };
        // Leaked on purpose: the handler may read it at any moment, so it
        // is never freed (one short path per download).
        let old = TEMP.swap(c.into_raw(), Ordering::SeqCst);
        let _ = old;
        INSTALL.call_once(|| {
            for sig in SIGNALS {
                let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                // SAFETY: installing a handler that only calls
                // async-signal-safe functions.
                unsafe {
                    libc::signal(sig, handler);
                }
            }
        });
    }

    /// The temporary file is gone (renamed or deleted): forget it.
    pub fn release() {
        TEMP.store(std::ptr::null_mut(), Ordering::SeqCst);
    }
}

#[cfg(not(unix))]
mod imp {
    /// Nothing to install on this platform.
    pub fn protect(_temp: &std::path::Path) {}
    /// Nothing to forget on this platform.
    pub fn release() {}
}

pub use imp::{protect, release};
