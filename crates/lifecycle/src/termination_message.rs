//! Termination messages: what ends up in `state.terminated.message`. Mirrors the kubelet's
//! `getTerminationMessage` / `readLastStringFromContainerLogs` (`kuberuntime_container.go`) and
//! the pod-wide cap of `normalizeStatus` (`status_manager.go`); see kubelet-semantics.md §8.
//!
//! The engine does the IO (reading the host file behind `terminationMessagePath`, reading the
//! container log); this module decides which bytes become the message.
//!
//! # Caveats
//!
//! * The kubelet keeps the raw bytes (a Go string) and the JSON encoder later replaces invalid
//!   UTF-8 with U+FFFD. Rust strings must be valid UTF-8, so the bytes are converted lossily here.
//!   When *we* cut bytes (the 4096/2048-byte tails, the pod-wide cap) the cut is moved to a
//!   character boundary instead of leaving a broken character behind: a tail drops the leading
//!   continuation bytes of the character it cut, the cap drops the trailing partial character.
//! * The kubelet skips the log fallback when the runtime reason is `ContainerCannotRun`; this
//!   module does not see the reason, so callers pass [`TerminationMessagePolicy::File`] in that
//!   case.

use crate::plan::TerminationMessagePolicy;

/// Bytes kept from the end of the termination-message file (`MaxContainerTerminationMessageLength`).
pub const MAX_TERMINATION_MESSAGE_BYTES: usize = 4096;

/// Log lines read for `FallbackToLogsOnError` (`MaxContainerTerminationMessageLogLines`).
pub const MAX_TERMINATION_MESSAGE_LOG_LINES: usize = 80;

/// Bytes kept from the end of those log lines (`MaxContainerTerminationMessageLogLength`).
pub const MAX_TERMINATION_MESSAGE_LOG_BYTES: usize = 2048;

/// Budget shared by all containers' terminated messages of one pod
/// (`MaxPodTerminationMessageLogLength`), split evenly by [`cap_pod_messages`].
pub const MAX_POD_TERMINATION_MESSAGE_BYTES: usize = 12288;

/// The termination message of an exited container instance, or `None` when there is none.
///
/// * `file_contents`: the whole host file behind `terminationMessagePath`, or `None` when it does
///   not exist. Only its last [`MAX_TERMINATION_MESSAGE_BYTES`] are used.
/// * `log_tail`: called only when the log fallback applies (policy `FallbackToLogsOnError`,
///   `exit_code != 0`, file missing or empty). It returns the container's log content as
///   `kubectl logs` shows it; returning the whole log is fine, at least the last
///   [`MAX_TERMINATION_MESSAGE_LOG_LINES`] lines are needed. The message is the last
///   [`MAX_TERMINATION_MESSAGE_LOG_BYTES`] bytes of its last 80 lines.
///
/// An empty result (empty file, empty log) is `None`, as the kubelet only appends non-empty
/// messages.
pub fn termination_message(
    policy: TerminationMessagePolicy,
    exit_code: i32,
    file_contents: Option<&[u8]>,
    log_tail: impl FnOnce() -> Vec<u8>,
) -> Option<String> {
    let fallback_to_logs =
        policy == TerminationMessagePolicy::FallbackToLogsOnError && exit_code != 0;
    let from_file =
        file_contents.map(|contents| tail_bytes(contents, MAX_TERMINATION_MESSAGE_BYTES));
    let message = match from_file {
        Some(bytes) if !bytes.is_empty() => lossy_tail(bytes, file_contents.map_or(0, <[u8]>::len)),
        _ if fallback_to_logs => {
            let log = log_tail();
            let tail = tail_lines(
                &log,
                MAX_TERMINATION_MESSAGE_LOG_LINES,
                MAX_TERMINATION_MESSAGE_LOG_BYTES,
            );
            let uncut = tail_lines(&log, MAX_TERMINATION_MESSAGE_LOG_LINES, usize::MAX).len();
            lossy_tail(tail, uncut)
        }
        _ => String::new(),
    };
    (!message.is_empty()).then_some(message)
}

/// The message the kubelet reports when the termination-message file exists but cannot be read
/// (`Error on reading termination log <hostpath>: <err>`). No log fallback happens in that case.
pub fn read_error_message(host_path: &str, error: &dyn std::fmt::Display) -> String {
    format!("Error on reading termination log {host_path}: {error}")
}

/// The final `terminated.message`: the runtime's message, then `": "`, then the termination
/// message, each part only when non-empty.
pub fn combine_messages(
    runtime_message: Option<&str>,
    termination: Option<&str>,
) -> Option<String> {
    let runtime_message = runtime_message.unwrap_or("");
    let termination = termination.unwrap_or("");
    match (runtime_message.is_empty(), termination.is_empty()) {
        (true, true) => None,
        (false, true) => Some(runtime_message.to_owned()),
        (true, false) => Some(termination.to_owned()),
        (false, false) => Some(format!("{runtime_message}: {termination}")),
    }
}

/// Applies the pod-wide cap of `normalizeStatus`: each message keeps at most
/// `12288 / container_count` bytes (all of `12288` when the count is 0), keeping the *first*
/// bytes, cut back to a character boundary.
///
/// `container_count` is the number of init + regular + ephemeral containers in the spec. The
/// kubelet applies this to both `state.terminated.message` and
/// `lastState.terminated.message` of every container status.
pub fn cap_pod_messages(messages: &mut [Option<String>], container_count: usize) {
    let per_message = match container_count {
        0 => MAX_POD_TERMINATION_MESSAGE_BYTES,
        n => MAX_POD_TERMINATION_MESSAGE_BYTES / n,
    };
    for message in messages.iter_mut().flatten() {
        if message.len() > per_message {
            let mut end = per_message;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
    }
}

/// The last `lines` lines of `log`, then at most its last `max_bytes` bytes.
///
/// A line ends with `\n`; a final line without one counts as a line too, and a final `\n` does
/// not start a new (empty) line. The result is a suffix of `log`, so it keeps the newlines.
pub fn tail_lines(log: &[u8], lines: usize, max_bytes: usize) -> &[u8] {
    if lines == 0 {
        return &log[log.len()..];
    }
    // Ignore the newline that terminates the last line when counting.
    let body = log.strip_suffix(b"\n").unwrap_or(log);
    let mut seen = 0;
    let mut start = 0;
    for (index, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                start = index + 1;
                break;
            }
        }
    }
    tail_bytes(&log[start..], max_bytes)
}

/// The last `max_bytes` bytes of `bytes`.
fn tail_bytes(bytes: &[u8], max_bytes: usize) -> &[u8] {
    &bytes[bytes.len().saturating_sub(max_bytes)..]
}

/// Converts a tail of a longer buffer (`original_len` bytes) to a string. When the tail was cut
/// (it is shorter than the original) the continuation bytes of the character that was cut are
/// dropped, so the message starts on a character boundary; anything else invalid becomes U+FFFD.
fn lossy_tail(tail: &[u8], original_len: usize) -> String {
    let mut start = 0;
    if tail.len() < original_len {
        // A UTF-8 character has at most three continuation bytes (0b10xx_xxxx).
        while start < tail.len().min(3) && tail[start] & 0b1100_0000 == 0b1000_0000 {
            start += 1;
        }
    }
    String::from_utf8_lossy(&tail[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    use TerminationMessagePolicy::{FallbackToLogsOnError, File};

    fn no_log() -> Vec<u8> {
        panic!("the log must not be read in this case")
    }

    #[test]
    fn file_contents_become_the_message() {
        let message = termination_message(File, 1, Some(b"boom\n"), no_log);
        assert_eq!(message.as_deref(), Some("boom\n"));
    }

    #[test]
    fn missing_or_empty_file_with_file_policy_gives_no_message() {
        assert_eq!(termination_message(File, 1, None, no_log), None);
        assert_eq!(termination_message(File, 1, Some(b""), no_log), None);
        assert_eq!(termination_message(File, 0, None, no_log), None);
    }

    #[test]
    fn a_5000_byte_file_keeps_its_last_4096_bytes() {
        let mut file = vec![b'a'; 904];
        file.extend(std::iter::repeat_n(b'b', 4096));
        assert_eq!(file.len(), 5000);
        let message = termination_message(File, 0, Some(&file), no_log).unwrap();
        assert_eq!(message.len(), MAX_TERMINATION_MESSAGE_BYTES);
        assert!(message.bytes().all(|b| b == b'b'));
    }

    #[test]
    fn a_4096_byte_file_is_kept_whole() {
        let file = vec![b'x'; 4096];
        let message = termination_message(File, 0, Some(&file), no_log).unwrap();
        assert_eq!(message.len(), 4096);
    }

    #[test]
    fn a_cut_multibyte_character_at_the_start_of_the_tail_is_dropped() {
        // 4095 'a' after a 3-byte character: the 4096-byte tail starts with its last byte.
        let mut file = "€".as_bytes().to_vec();
        file.extend(std::iter::repeat_n(b'a', 4094));
        file.insert(0, b'z');
        assert_eq!(file.len(), 4098);
        let message = termination_message(File, 0, Some(&file), no_log).unwrap();
        assert_eq!(message, "a".repeat(4094));
    }

    #[test]
    fn invalid_utf8_inside_the_file_becomes_replacement_characters() {
        let message = termination_message(File, 1, Some(b"ok \xff end"), no_log).unwrap();
        assert_eq!(message, "ok \u{fffd} end");
    }

    #[test]
    fn fallback_reads_the_log_only_when_the_container_failed_and_the_file_is_empty() {
        let log = || b"line1\nline2\n".to_vec();
        type Case = (i32, Option<&'static [u8]>, Option<&'static str>);
        let cases: [Case; 5] = [
            (1, None, Some("line1\nline2\n")),
            (137, Some(b""), Some("line1\nline2\n")),
            (-1, None, Some("line1\nline2\n")),
            (1, Some(b"from file"), Some("from file")),
            (0, Some(b"from file"), Some("from file")),
        ];
        for (exit_code, file, expected) in cases {
            let message = termination_message(FallbackToLogsOnError, exit_code, file, log);
            assert_eq!(
                message.as_deref(),
                expected,
                "exit {exit_code} file {file:?}"
            );
        }
    }

    #[test]
    fn fallback_is_not_used_on_success() {
        assert_eq!(
            termination_message(FallbackToLogsOnError, 0, None, no_log),
            None
        );
        assert_eq!(
            termination_message(FallbackToLogsOnError, 0, Some(b""), no_log),
            None
        );
    }

    #[test]
    fn fallback_with_an_empty_log_gives_no_message() {
        assert_eq!(
            termination_message(FallbackToLogsOnError, 2, None, Vec::new),
            None
        );
    }

    #[test]
    fn fallback_keeps_the_last_80_lines() {
        let log: String = (1..=100).map(|i| format!("l{i}\n")).collect();
        let message =
            termination_message(FallbackToLogsOnError, 1, None, || log.into_bytes()).unwrap();
        let expected: String = (21..=100).map(|i| format!("l{i}\n")).collect();
        assert_eq!(message, expected);
    }

    #[test]
    fn fallback_keeps_the_last_2048_bytes_of_those_lines() {
        let log = format!("{}\n{}\n", "a".repeat(3000), "b".repeat(100));
        let message =
            termination_message(FallbackToLogsOnError, 1, None, || log.into_bytes()).unwrap();
        assert_eq!(message.len(), 2048);
        assert_eq!(
            message,
            format!("{}\n{}\n", "a".repeat(1946), "b".repeat(100))
        );
    }

    #[test]
    fn fallback_drops_a_cut_character_at_the_start() {
        // 2047 ASCII bytes after a 2-byte 'é': the 2048-byte tail starts inside 'é'.
        let log = format!("é{}", "x".repeat(2047));
        let message =
            termination_message(FallbackToLogsOnError, 1, None, || log.into_bytes()).unwrap();
        assert_eq!(message, "x".repeat(2047));
    }

    #[test]
    fn tail_lines_table() {
        let cases: [(&str, usize, usize, &str); 11] = [
            ("", 80, 2048, ""),
            ("a\nb\nc\n", 2, 100, "b\nc\n"),
            ("a\nb\nc", 2, 100, "b\nc"),
            ("a\nb\nc\n", 3, 100, "a\nb\nc\n"),
            ("a\nb\nc\n", 10, 100, "a\nb\nc\n"),
            ("a\nb\nc\n", 1, 100, "c\n"),
            ("a\nb\nc\n", 0, 100, ""),
            ("a\n\n\n", 2, 100, "\n\n"),
            ("\n", 1, 100, "\n"),
            ("abc\ndef\n", 2, 3, "ef\n"),
            ("no newline", 1, 100, "no newline"),
        ];
        for (log, lines, max_bytes, expected) in cases {
            let tail = tail_lines(log.as_bytes(), lines, max_bytes);
            assert_eq!(
                tail,
                expected.as_bytes(),
                "tail_lines({log:?}, {lines}, {max_bytes})"
            );
        }
    }

    #[test]
    fn combine_messages_table() {
        let cases = [
            (None, None, None),
            (Some(""), Some(""), None),
            (Some("OOMKilled"), None, Some("OOMKilled")),
            (None, Some("bye"), Some("bye")),
            (Some("runtime"), Some("bye"), Some("runtime: bye")),
        ];
        for (runtime, termination, expected) in cases {
            assert_eq!(
                combine_messages(runtime, termination).as_deref(),
                expected,
                "{runtime:?} + {termination:?}"
            );
        }
    }

    #[test]
    fn read_error_message_wording() {
        assert_eq!(
            read_error_message("/var/lib/x/abcd1234", &"permission denied"),
            "Error on reading termination log /var/lib/x/abcd1234: permission denied"
        );
    }

    #[test]
    fn pod_cap_splits_12288_bytes_evenly_and_keeps_the_first_bytes() {
        let mut messages = vec![
            Some("a".repeat(5000)),
            None,
            Some("short".to_owned()),
            Some(format!("{}{}", "b".repeat(4096), "c".repeat(10))),
        ];
        cap_pod_messages(&mut messages, 3);
        assert_eq!(messages[0].as_deref(), Some("a".repeat(4096).as_str()));
        assert_eq!(messages[1], None);
        assert_eq!(messages[2].as_deref(), Some("short"));
        assert_eq!(messages[3].as_deref(), Some("b".repeat(4096).as_str()));
    }

    #[test]
    fn pod_cap_with_one_container_allows_12288_bytes() {
        let mut messages = vec![Some("x".repeat(13000))];
        cap_pod_messages(&mut messages, 1);
        assert_eq!(messages[0].as_ref().map(String::len), Some(12288));
        let mut messages = vec![Some("x".repeat(13000))];
        cap_pod_messages(&mut messages, 0);
        assert_eq!(messages[0].as_ref().map(String::len), Some(12288));
    }

    #[test]
    fn pod_cap_rounds_down_and_cuts_on_a_character_boundary() {
        // 12288 / 5 = 2457 bytes = 'a' + 818 '€' (2455 bytes) + 2 bytes of the next '€'.
        let mut messages = vec![Some(format!("a{}", "€".repeat(1000)))];
        cap_pod_messages(&mut messages, 5);
        let capped = messages[0].clone().unwrap();
        assert_eq!(capped, format!("a{}", "€".repeat(818)));
        assert_eq!(capped.len(), 2455);
    }
}
