//! Stop signals as a type. Mirrors the `core.Signal` constants and `supportedStopSignalsLinux`
//! / `validateStopSignal` of pkg/apis/core/validation/validation.go (KEP-4960, container stop
//! signals); the numbers are the Linux ones the runtime uses to deliver them (moby/sys
//! `signal_linux.go`, as containerd's `ParseSignal` does); see kubelet-semantics.md §3.3.

use std::fmt;
use std::str::FromStr;

macro_rules! signals {
    ($($variant:ident = $name:literal, $number:expr, $doc:literal;)*) => {
        /// A signal name Kubernetes accepts for `lifecycle.stopSignal` on Linux pods
        /// (`supportedStopSignalsLinux`). Variants are spelled as the `core.Signal` constants.
        #[allow(clippy::upper_case_acronyms, non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Signal {
            $(#[doc = $doc] $variant,)*
        }

        impl Signal {
            /// Every supported signal, in the order of `supportedStopSignalsLinux`.
            pub const ALL: &'static [Signal] = &[$(Signal::$variant,)*];

            /// The API spelling, e.g. `SIGTERM`, `SIGRTMIN+1`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Signal::$variant => $name,)*
                }
            }

            /// The Linux signal number (x86, arm and most other architectures; not alpha, mips
            /// or sparc). Real-time signals count from `SIGRTMIN` = 34, glibc's userspace view
            /// (the kernel's 32 and 33 are reserved by glibc's threading), as moby and
            /// containerd map them; `SIGRTMAX` = 64.
            pub fn number(self) -> i32 {
                match self {
                    $(Signal::$variant => $number,)*
                }
            }
        }
    };
}

/// `SIGRTMIN` as glibc reports it (see [`Signal::number`]).
pub const SIGRTMIN: i32 = 34;
/// `SIGRTMAX` on Linux.
pub const SIGRTMAX: i32 = 64;

signals! {
    SIGABRT = "SIGABRT", 6, "`SIGABRT` (6).";
    SIGALRM = "SIGALRM", 14, "`SIGALRM` (14).";
    SIGBUS = "SIGBUS", 7, "`SIGBUS` (7).";
    SIGCHLD = "SIGCHLD", 17, "`SIGCHLD` (17).";
    SIGCLD = "SIGCLD", 17, "`SIGCLD`, an alias of `SIGCHLD` (17).";
    SIGCONT = "SIGCONT", 18, "`SIGCONT` (18).";
    SIGFPE = "SIGFPE", 8, "`SIGFPE` (8).";
    SIGHUP = "SIGHUP", 1, "`SIGHUP` (1).";
    SIGILL = "SIGILL", 4, "`SIGILL` (4).";
    SIGINT = "SIGINT", 2, "`SIGINT` (2).";
    SIGIO = "SIGIO", 29, "`SIGIO` (29).";
    SIGIOT = "SIGIOT", 6, "`SIGIOT`, an alias of `SIGABRT` (6).";
    SIGKILL = "SIGKILL", 9, "`SIGKILL` (9): cannot be caught.";
    SIGPIPE = "SIGPIPE", 13, "`SIGPIPE` (13).";
    SIGPOLL = "SIGPOLL", 29, "`SIGPOLL`, an alias of `SIGIO` (29).";
    SIGPROF = "SIGPROF", 27, "`SIGPROF` (27).";
    SIGPWR = "SIGPWR", 30, "`SIGPWR` (30).";
    SIGQUIT = "SIGQUIT", 3, "`SIGQUIT` (3).";
    SIGSEGV = "SIGSEGV", 11, "`SIGSEGV` (11).";
    SIGSTKFLT = "SIGSTKFLT", 16, "`SIGSTKFLT` (16).";
    SIGSTOP = "SIGSTOP", 19, "`SIGSTOP` (19): cannot be caught.";
    SIGSYS = "SIGSYS", 31, "`SIGSYS` (31).";
    SIGTERM = "SIGTERM", 15, "`SIGTERM` (15): the default stop signal.";
    SIGTRAP = "SIGTRAP", 5, "`SIGTRAP` (5).";
    SIGTSTP = "SIGTSTP", 20, "`SIGTSTP` (20).";
    SIGTTIN = "SIGTTIN", 21, "`SIGTTIN` (21).";
    SIGTTOU = "SIGTTOU", 22, "`SIGTTOU` (22).";
    SIGURG = "SIGURG", 23, "`SIGURG` (23).";
    SIGUSR1 = "SIGUSR1", 10, "`SIGUSR1` (10).";
    SIGUSR2 = "SIGUSR2", 12, "`SIGUSR2` (12).";
    SIGVTALRM = "SIGVTALRM", 26, "`SIGVTALRM` (26).";
    SIGWINCH = "SIGWINCH", 28, "`SIGWINCH` (28).";
    SIGXCPU = "SIGXCPU", 24, "`SIGXCPU` (24).";
    SIGXFSZ = "SIGXFSZ", 25, "`SIGXFSZ` (25).";
    SIGRTMIN = "SIGRTMIN", SIGRTMIN, "`SIGRTMIN` (34).";
    SIGRTMINPLUS1 = "SIGRTMIN+1", SIGRTMIN + 1, "`SIGRTMIN+1` (35).";
    SIGRTMINPLUS2 = "SIGRTMIN+2", SIGRTMIN + 2, "`SIGRTMIN+2` (36).";
    SIGRTMINPLUS3 = "SIGRTMIN+3", SIGRTMIN + 3, "`SIGRTMIN+3` (37).";
    SIGRTMINPLUS4 = "SIGRTMIN+4", SIGRTMIN + 4, "`SIGRTMIN+4` (38).";
    SIGRTMINPLUS5 = "SIGRTMIN+5", SIGRTMIN + 5, "`SIGRTMIN+5` (39).";
    SIGRTMINPLUS6 = "SIGRTMIN+6", SIGRTMIN + 6, "`SIGRTMIN+6` (40).";
    SIGRTMINPLUS7 = "SIGRTMIN+7", SIGRTMIN + 7, "`SIGRTMIN+7` (41).";
    SIGRTMINPLUS8 = "SIGRTMIN+8", SIGRTMIN + 8, "`SIGRTMIN+8` (42).";
    SIGRTMINPLUS9 = "SIGRTMIN+9", SIGRTMIN + 9, "`SIGRTMIN+9` (43).";
    SIGRTMINPLUS10 = "SIGRTMIN+10", SIGRTMIN + 10, "`SIGRTMIN+10` (44).";
    SIGRTMINPLUS11 = "SIGRTMIN+11", SIGRTMIN + 11, "`SIGRTMIN+11` (45).";
    SIGRTMINPLUS12 = "SIGRTMIN+12", SIGRTMIN + 12, "`SIGRTMIN+12` (46).";
    SIGRTMINPLUS13 = "SIGRTMIN+13", SIGRTMIN + 13, "`SIGRTMIN+13` (47).";
    SIGRTMINPLUS14 = "SIGRTMIN+14", SIGRTMIN + 14, "`SIGRTMIN+14` (48).";
    SIGRTMINPLUS15 = "SIGRTMIN+15", SIGRTMIN + 15, "`SIGRTMIN+15` (49).";
    SIGRTMAXMINUS14 = "SIGRTMAX-14", SIGRTMAX - 14, "`SIGRTMAX-14` (50).";
    SIGRTMAXMINUS13 = "SIGRTMAX-13", SIGRTMAX - 13, "`SIGRTMAX-13` (51).";
    SIGRTMAXMINUS12 = "SIGRTMAX-12", SIGRTMAX - 12, "`SIGRTMAX-12` (52).";
    SIGRTMAXMINUS11 = "SIGRTMAX-11", SIGRTMAX - 11, "`SIGRTMAX-11` (53).";
    SIGRTMAXMINUS10 = "SIGRTMAX-10", SIGRTMAX - 10, "`SIGRTMAX-10` (54).";
    SIGRTMAXMINUS9 = "SIGRTMAX-9", SIGRTMAX - 9, "`SIGRTMAX-9` (55).";
    SIGRTMAXMINUS8 = "SIGRTMAX-8", SIGRTMAX - 8, "`SIGRTMAX-8` (56).";
    SIGRTMAXMINUS7 = "SIGRTMAX-7", SIGRTMAX - 7, "`SIGRTMAX-7` (57).";
    SIGRTMAXMINUS6 = "SIGRTMAX-6", SIGRTMAX - 6, "`SIGRTMAX-6` (58).";
    SIGRTMAXMINUS5 = "SIGRTMAX-5", SIGRTMAX - 5, "`SIGRTMAX-5` (59).";
    SIGRTMAXMINUS4 = "SIGRTMAX-4", SIGRTMAX - 4, "`SIGRTMAX-4` (60).";
    SIGRTMAXMINUS3 = "SIGRTMAX-3", SIGRTMAX - 3, "`SIGRTMAX-3` (61).";
    SIGRTMAXMINUS2 = "SIGRTMAX-2", SIGRTMAX - 2, "`SIGRTMAX-2` (62).";
    SIGRTMAXMINUS1 = "SIGRTMAX-1", SIGRTMAX - 1, "`SIGRTMAX-1` (63).";
    SIGRTMAX = "SIGRTMAX", SIGRTMAX, "`SIGRTMAX` (64).";
}

impl Signal {
    /// The API spellings sorted bytewise, as `sets.List(supportedStopSignalsLinux)` lists them
    /// in the `supported values:` detail of the validation error.
    pub fn supported_values() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Signal::ALL.iter().map(|s| s.as_str()).collect();
        v.sort_unstable();
        v
    }
}

impl Default for Signal {
    /// `SIGTERM`: the runtime's default when neither the spec nor the image sets one (podvisor
    /// runs no image, so there is no image `STOPSIGNAL`).
    fn default() -> Self {
        Signal::SIGTERM
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `lifecycle.stopSignal` value that is not a supported Linux signal name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported stop signal {value:?}")]
pub struct UnknownSignal {
    /// The value as given.
    pub value: String,
}

impl FromStr for Signal {
    type Err = UnknownSignal;

    /// The exact API spelling (case-sensitive, with the `SIG` prefix), as the API server's
    /// set lookup.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Signal::ALL
            .iter()
            .copied()
            .find(|sig| sig.as_str() == s)
            .ok_or_else(|| UnknownSignal {
                value: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        assert_eq!(Signal::ALL.len(), 65);
        for s in Signal::ALL {
            assert_eq!(s.as_str().parse::<Signal>(), Ok(*s));
            assert_eq!(s.to_string(), s.as_str());
        }
    }

    #[test]
    fn numbers_are_the_linux_ones() {
        assert_eq!(Signal::SIGHUP.number(), 1);
        assert_eq!(Signal::SIGKILL.number(), 9);
        assert_eq!(Signal::SIGUSR1.number(), 10);
        assert_eq!(Signal::SIGTERM.number(), 15);
        assert_eq!(Signal::SIGSYS.number(), 31);
        assert_eq!(Signal::SIGCLD.number(), Signal::SIGCHLD.number());
        assert_eq!(Signal::SIGIOT.number(), Signal::SIGABRT.number());
        assert_eq!(Signal::SIGPOLL.number(), Signal::SIGIO.number());
        assert_eq!(Signal::SIGRTMIN.number(), 34);
        assert_eq!(Signal::SIGRTMINPLUS15.number(), 49);
        assert_eq!(Signal::SIGRTMAXMINUS14.number(), 50);
        assert_eq!(Signal::SIGRTMAX.number(), 64);
        // Real-time signals are contiguous and distinct.
        let rt: Vec<i32> = Signal::ALL[34..].iter().map(|s| s.number()).collect();
        assert_eq!(rt, (34..=64).collect::<Vec<_>>());
    }

    #[test]
    fn parsing_is_exact() {
        for bad in [
            "TERM",
            "sigterm",
            "SIGFOO",
            "",
            "SIGRTMIN+16",
            "SIGRTMAX-15",
            "15",
        ] {
            assert_eq!(
                bad.parse::<Signal>(),
                Err(UnknownSignal {
                    value: bad.to_string()
                })
            );
        }
        assert_eq!(
            "SIGFOO".parse::<Signal>().unwrap_err().to_string(),
            "unsupported stop signal \"SIGFOO\""
        );
    }

    #[test]
    fn supported_values_are_sorted_as_go_sorts_strings() {
        let v = Signal::supported_values();
        assert_eq!(v.len(), 65);
        assert_eq!(&v[..3], &["SIGABRT", "SIGALRM", "SIGBUS"]);
        let rtmax = v.iter().position(|s| *s == "SIGRTMAX").unwrap();
        assert_eq!(
            &v[rtmax..rtmax + 4],
            &["SIGRTMAX", "SIGRTMAX-1", "SIGRTMAX-10", "SIGRTMAX-11"]
        );
        assert_eq!(v.last(), Some(&"SIGXFSZ"));
    }

    #[test]
    fn the_default_is_sigterm() {
        assert_eq!(Signal::default(), Signal::SIGTERM);
    }
}
