//! The CRI container log format, written by the monitor and read for `kubectl logs`, attach
//! and the termination-message fallback. Mirrors containerd's CRI logger
//! (`internal/cri/io/logger.go`, `redirectLogs`) for writing and the kubelet's CRI log reader
//! (`pkg/kubelet/kuberuntime/logs/logs.go`, `ReadLogs`; `pkg/util/tail`) for reading.
//!
//! A record is one line: `<RFC 3339 timestamp> <stdout|stderr> <F|P> <content>\n`. `F` ends a
//! line of output; a line longer than [`MAX_LINE_BYTES`] is cut into `P` records of exactly that
//! size followed by the `F` record with the rest; output left without a newline when the stream
//! ends is written as one `P` record (containerd's rule). A `\r\n` line end loses its `\r`.
//!
//! Reading follows the kubelet: a record's content is shown as is (an `F` record's content
//! includes its newline, a `P` record's does not, so consecutive records join into the line);
//! `timestamps` prefixes every record with its time in RFC 3339 with nine fraction digits and
//! the offset it was written with; `tailLines` counts records from the end of the file (so the
//! `P` pieces of a long line count one each, as in the kubelet), found by reading the file
//! backwards in blocks; `sinceTime` drops records older than it; `limitBytes` cuts the output.
//!
//! Everything here is pure or generic over `Read`/`Seek`; the caller owns files and clocks.
//!
//! # Caveats
//! * Records are stamped in UTC (`...Z`); containerd stamps the node's local time (the same on
//!   the usual UTC node). Reading accepts any offset and shows it back as written.
//! * The order of stdout and stderr records is the order the monitor read them in, as with
//!   containerd's two copiers: lines written to both within microseconds may swap.
//! * Rotation (done by the monitor, see `runtime::process::shim`) keeps rotated files
//!   uncompressed (the kubelet gzips all but the newest) and happens at most once a second (the
//!   names carry the second; the kubelet checks every 10 s), so a file can pass its maximum
//!   size by what one second of output adds.

use std::io::{self, Read, Seek, SeekFrom};

/// containerd's default `max_container_log_line_size`: longer lines are split into `P` records.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// The kubelet's default `containerLogMaxSize` (10Mi).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;

/// The kubelet's default `containerLogMaxFiles`.
pub const DEFAULT_MAX_FILES: usize = 5;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The container's stdout.
    Stdout,
    /// The container's stderr.
    Stderr,
}

impl Stream {
    /// The word in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The timestamp as written.
    pub timestamp: &'a str,
    /// The timestamp parsed.
    pub time: jiff::Timestamp,
    /// The stream.
    pub stream: Stream,
    /// A `P` record (a piece of a longer line, or output without a final newline).
    pub partial: bool,
    /// What the container wrote: an `F` record's content keeps its newline (when the record
    /// has one), a `P` record's does not.
    pub content: &'a [u8],
}

/// Parses one record (with or without its newline), as the kubelet's `parseCRILog`: `None` when
/// it is not a CRI log line.
pub fn parse(line: &[u8]) -> Option<Record<'_>> {
    let (timestamp, rest) = split_word(line)?;
    let timestamp = std::str::from_utf8(timestamp).ok()?;
    let time: jiff::Timestamp = timestamp.parse().ok()?;
    let (stream, rest) = split_word(rest)?;
    let stream = match stream {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let (tags, mut content) = split_word(rest)?;
    // Tags are `:`-separated for forward compatibility; the first says full or partial.
    let partial = tags.split(|b| *b == b':').next() == Some(b"P");
    if partial {
        content = content.strip_suffix(b"\n").unwrap_or(content);
    }
    Some(Record {
        timestamp,
        time,
        stream,
        partial,
        content,
    })
}

fn split_word(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|b| *b == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

/// Appends one record to `out`.
pub fn format_record(
    out: &mut Vec<u8>,
    timestamp: &str,
    stream: Stream,
    partial: bool,
    content: &[u8],
) {
    out.extend_from_slice(timestamp.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if partial { b" P " } else { b" F " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// A timestamp as the runtime writes it: RFC 3339 in UTC with the fraction's trailing zeros
/// trimmed (Go's `time.RFC3339Nano`).
pub fn write_timestamp(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// A record's timestamp as `kubectl logs --timestamps` shows it: the kubelet's
/// `RFC3339NanoFixed` (nine fraction digits) in the offset the record was written with.
pub fn display_timestamp(r: &Record<'_>) -> String {
    let text = r.timestamp;
    let offset = text
        .len()
        .checked_sub(6)
        .and_then(|i| text.get(i..))
        .filter(|s| s.starts_with(['+', '-']) && s.as_bytes()[3] == b':')
        .and_then(|s| {
            let sign = if s.starts_with('-') { -1 } else { 1 };
            let h: i32 = s[1..3].parse().ok()?;
            let m: i32 = s[4..6].parse().ok()?;
            jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
        });
    match offset {
        Some(o) if o != jiff::tz::Offset::UTC => {
            format!("{:.9}", r.time.display_with_offset(o))
        }
        _ => format!("{:.9}", r.time),
    }
}

/// Cuts a stream's output into records, as containerd's `redirectLogs`: a record per line,
/// lines longer than `max` in `P` pieces of `max` bytes, what is left at the end as `P`.
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    max: usize,
}

impl Splitter {
    /// A splitter with containerd's line limit ([`MAX_LINE_BYTES`] by default).
    pub fn new(max: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feeds output; `emit(partial, content)` is called for every record it completes.
    pub fn push(&mut self, mut data: &[u8], emit: &mut impl FnMut(bool, &[u8])) {
        while !data.is_empty() {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&data[..i]);
                    data = &data[i + 1..];
                    if self.buf.last() == Some(&b'\r') {
                        self.buf.pop();
                    }
                    self.cut(emit);
                    emit(false, &self.buf);
                    self.buf.clear();
                }
                None => {
                    self.buf.extend_from_slice(data);
                    data = &[];
                    self.cut(emit);
                }
            }
        }
    }

    /// The stream ended: output without a final newline becomes a `P` record.
    pub fn finish(&mut self, emit: &mut impl FnMut(bool, &[u8])) {
        if !self.buf.is_empty() {
            emit(true, &self.buf);
            self.buf.clear();
        }
    }

    /// Emits `P` pieces while more than `max` bytes are buffered.
    fn cut(&mut self, emit: &mut impl FnMut(bool, &[u8])) {
        let mut start = 0;
        while self.buf.len() - start > self.max {
            emit(true, &self.buf[start..start + self.max]);
            start += self.max;
        }
        self.buf.drain(..start);
    }
}

/// The block size of the backward search for the last lines.
pub const TAIL_BLOCK: u64 = 4096;

/// Where the last `n` lines of `r` start (the kubelet's `FindTailLineStartIndex`): blocks are
/// read from the end until `n` lines are found, so only the end of a large file is read. A last
/// line without a newline does not count. Leaves `r`'s position unspecified.
pub fn tail_start<R: Read + Seek>(r: &mut R, n: u64) -> io::Result<u64> {
    let size = r.seek(SeekFrom::End(0))?;
    let mut right = size;
    let mut count = 0u64;
    let mut block = Vec::new();
    let mut left = size;
    while right > 0 && count <= n {
        left = right.saturating_sub(TAIL_BLOCK);
        block.resize(usize::try_from(right - left).unwrap_or(0), 0);
        r.seek(SeekFrom::Start(left))?;
        r.read_exact(&mut block)?;
        count += block.iter().filter(|b| **b == b'\n').count() as u64;
        right = left;
    }
    if count <= n {
        return Ok(0);
    }
    // Skip the excess newlines from the front of the earliest block read.
    let mut start = 0usize;
    for _ in 0..(count - n) {
        match block[start..].iter().position(|b| *b == b'\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    Ok(left + start as u64)
}

/// What to show of a log (the kubelet's `LogOptions` without `follow`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `tailLines`: the last n records.
    pub tail: Option<u64>,
    /// `limitBytes`: at most this much output.
    pub limit_bytes: Option<u64>,
    /// `sinceSeconds` / `sinceTime`: drop records older than this.
    pub since: Option<jiff::Timestamp>,
    /// `timestamps`: prefix every record with its timestamp.
    pub timestamps: bool,
    /// Following: the tail is only where to start, not a count of records to stop after.
    pub follow: bool,
}

impl ReadOptions {
    /// The kubelet's `NewLogOptions` rule for the two `since` parameters: `sinceSeconds`
    /// before `now`, or `sinceTime` when it is later.
    pub fn since(
        now: jiff::Timestamp,
        since_seconds: Option<i64>,
        since_time: Option<jiff::Timestamp>,
    ) -> Option<jiff::Timestamp> {
        let from_seconds =
            since_seconds.and_then(|s| now.checked_sub(jiff::SignedDuration::from_secs(s)).ok());
        match (from_seconds, since_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Output of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The stream it came from.
    pub stream: Stream,
    /// The bytes to show.
    pub data: Vec<u8>,
}

/// The bytes of pieces, streams interleaved as they came.
pub fn concat(pieces: &[Piece]) -> Vec<u8> {
    pieces.iter().flat_map(|p| p.data.iter().copied()).collect()
}

/// Turns log bytes into output, record by record (the kubelet's `ReadLogs` loop and
/// `logWriter`). Bytes after the last newline wait for more (or for [`Decoder::finish`]).
#[derive(Debug)]
pub struct Decoder {
    opts: ReadOptions,
    pending: Vec<u8>,
    /// Output left before `limitBytes`.
    remaining: Option<u64>,
    /// Records left to show without `follow` when `tail` is set.
    lines_left: Option<u64>,
    done: bool,
}

impl Decoder {
    /// A decoder for these options.
    pub fn new(opts: ReadOptions) -> Self {
        let lines_left = if opts.follow { None } else { opts.tail };
        Decoder {
            remaining: opts.limit_bytes,
            lines_left,
            done: lines_left == Some(0) || opts.limit_bytes == Some(0),
            opts,
            pending: Vec::new(),
        }
    }

    /// Whether nothing more will be shown (bytes limit reached, tail lines shown).
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds log bytes; complete records become output in `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Piece>) {
        let mut data = data;
        while !self.done && !data.is_empty() {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    if self.pending.is_empty() {
                        self.line(&data[..=i], out);
                    } else {
                        let mut line = std::mem::take(&mut self.pending);
                        line.extend_from_slice(&data[..=i]);
                        self.line(&line, out);
                    }
                    data = &data[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(data);
                    data = &[];
                }
            }
        }
    }

    /// The end of the log: a last line without a newline is shown too (the kubelet does when
    /// not following).
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let line = std::mem::take(&mut self.pending);
        if !self.done && !line.is_empty() {
            self.line(&line, out);
        }
    }

    /// Forgets an incomplete line (the file it came from was rotated away).
    pub fn drop_pending(&mut self) {
        self.pending.clear();
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<Piece>) {
        // Lines that are not CRI records are skipped (the kubelet logs and skips them).
        let Some(r) = parse(line) else { return };
        if let Some(left) = self.lines_left.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.done = true;
            }
        }
        if self.opts.since.is_some_and(|since| r.time < since) {
            return;
        }
        let mut text = Vec::new();
        if self.opts.timestamps {
            text.extend_from_slice(display_timestamp(&r).as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(r.content);
        if let Some(rem) = self.remaining.as_mut() {
            let n = usize::try_from(*rem).unwrap_or(usize::MAX).min(text.len());
            text.truncate(n);
            *rem -= n as u64;
            if *rem == 0 {
                self.done = true;
            }
        }
        match out.last_mut() {
            Some(p) if p.stream == r.stream => p.data.extend_from_slice(&text),
            _ => out.push(Piece {
                stream: r.stream,
                data: text,
            }),
        }
    }
}

/// Reads a whole log as [`ReadOptions`] say (not following): seeks to the tail first, so the
/// last lines of a large file cost only its end.
pub fn read<R: Read + Seek>(r: &mut R, opts: ReadOptions) -> io::Result<Vec<Piece>> {
    let start = match opts.tail {
        Some(n) => tail_start(r, n)?,
        None => 0,
    };
    r.seek(SeekFrom::Start(start))?;
    let mut d = Decoder::new(opts);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !d.done() {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        d.feed(&buf[..n], &mut out);
    }
    d.finish(&mut out);
    Ok(out)
}

/// The content of a log (every stream, no timestamps), for tests and tools.
pub fn content(log: &[u8]) -> Vec<u8> {
    let mut d = Decoder::new(ReadOptions::default());
    let mut out = Vec::new();
    d.feed(log, &mut out);
    d.finish(&mut out);
    concat(&out)
}

/// The content one stream wrote.
pub fn stream_content(log: &[u8], stream: Stream) -> Vec<u8> {
    let mut d = Decoder::new(ReadOptions::default());
    let mut out = Vec::new();
    d.feed(log, &mut out);
    d.finish(&mut out);
    out.into_iter()
        .filter(|p| p.stream == stream)
        .flat_map(|p| p.data)
        .collect()
}

/// The name a rotated log gets (the kubelet's `rotateLatestLog`: `<log>.<YYYYMMDD-hhmmss>`).
pub fn rotated_name(file_name: &str, at: jiff::civil::DateTime) -> String {
    format!("{file_name}.{}", at.strftime("%Y%m%d-%H%M%S"))
}

/// Which rotated logs to delete before rotating once more (the kubelet's `removeExcessLogs`):
/// with the file about to be rotated and the new one, at most `max_files` files remain.
/// `rotated` are the names of the existing rotated files; the oldest go first.
pub fn excess_rotated(mut rotated: Vec<String>, max_files: usize) -> Vec<String> {
    rotated.sort();
    let keep = max_files.saturating_sub(2);
    let excess = rotated.len().saturating_sub(keep);
    rotated.truncate(excess);
    rotated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[&[u8]], max: usize) -> Vec<(bool, Vec<u8>)> {
        let mut s = Splitter::new(max);
        let mut out = Vec::new();
        let mut emit = |p: bool, c: &[u8]| out.push((p, c.to_vec()));
        for chunk in input {
            s.push(chunk, &mut emit);
        }
        s.finish(&mut emit);
        out
    }

    #[test]
    fn a_line_is_a_full_record_and_output_without_a_newline_at_the_end_a_partial_one() {
        assert_eq!(
            records(&[b"hello\nwor", b"ld\r\n\nlast"], 100),
            vec![
                (false, b"hello".to_vec()),
                (false, b"world".to_vec()),
                (false, b"".to_vec()),
                (true, b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn a_long_line_becomes_partial_pieces_of_the_limit_then_a_full_record() {
        let line = [b'x'; 10];
        let mut input = line.to_vec();
        input.push(b'\n');
        assert_eq!(
            records(&[&input[..3], &input[3..]], 4),
            vec![
                (true, b"xxxx".to_vec()),
                (true, b"xxxx".to_vec()),
                (false, b"xx".to_vec()),
            ]
        );
        // Exactly the limit (a `\r\n` end does not count) stays one record.
        assert_eq!(records(&[b"xxxx\r\n"], 4), vec![(false, b"xxxx".to_vec())]);
    }

    #[test]
    fn records_are_formatted_and_parsed_back() {
        let mut out = Vec::new();
        format_record(
            &mut out,
            "2024-01-01T12:00:00.5Z",
            Stream::Stderr,
            true,
            b"a b",
        );
        assert_eq!(out, b"2024-01-01T12:00:00.5Z stderr P a b\n");
        let r = parse(&out).unwrap();
        assert_eq!(r.stream, Stream::Stderr);
        assert!(r.partial);
        assert_eq!(r.content, b"a b");
        let f = parse(b"2024-01-01T12:00:00Z stdout F done\n").unwrap();
        assert!(!f.partial);
        assert_eq!(f.content, b"done\n");
        assert!(parse(b"hello world\n").is_none());
        assert!(parse(b"2024-01-01T12:00:00Z stdin F x\n").is_none());
    }

    #[test]
    fn the_runtime_writes_rfc3339_nano_and_timestamps_show_nine_digits_in_the_written_offset() {
        let t: jiff::Timestamp = "2024-01-01T12:00:00.120Z".parse().unwrap();
        assert_eq!(write_timestamp(t), "2024-01-01T12:00:00.12Z");
        let whole: jiff::Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(write_timestamp(whole), "2024-01-01T12:00:00Z");
        let r = parse(b"2024-01-01T12:00:00.12Z stdout F x\n").unwrap();
        assert_eq!(display_timestamp(&r), "2024-01-01T12:00:00.120000000Z");
        let r = parse(b"2024-01-01T14:00:00.5+02:00 stdout F x\n").unwrap();
        assert_eq!(display_timestamp(&r), "2024-01-01T14:00:00.500000000+02:00");
    }

    fn log(lines: &[(&str, &str, &str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (ts, stream, tag, content) in lines {
            out.extend_from_slice(format!("{ts} {stream} {tag} {content}\n").as_bytes());
        }
        out
    }

    fn show(data: &[u8], opts: ReadOptions) -> String {
        let pieces = read(&mut io::Cursor::new(data), opts).unwrap();
        String::from_utf8(concat(&pieces)).unwrap()
    }

    #[test]
    fn reading_shows_content_joins_partial_records_and_prefixes_each_with_timestamps() {
        let data = log(&[
            ("2024-01-01T12:00:00Z", "stdout", "F", "one"),
            ("2024-01-01T12:00:01Z", "stderr", "P", "tw"),
            ("2024-01-01T12:00:02Z", "stderr", "F", "o"),
            ("2024-01-01T12:00:03Z", "stdout", "P", "three"),
        ]);
        assert_eq!(show(&data, ReadOptions::default()), "one\ntwo\nthree");
        let ts = ReadOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            show(&data[..data.len() / 2], ts.clone()).lines().next(),
            Some("2024-01-01T12:00:00.000000000Z one")
        );
        assert!(show(&data, ts)
            .contains("2024-01-01T12:00:01.000000000Z tw2024-01-01T12:00:02.000000000Z o\n"));
    }

    #[test]
    fn tail_counts_records_from_the_end_and_since_and_limit_apply_to_the_output() {
        let data = log(&[
            ("2024-01-01T12:00:00Z", "stdout", "F", "a"),
            ("2024-01-01T12:00:01Z", "stdout", "F", "b"),
            ("2024-01-01T12:00:02Z", "stdout", "F", "c"),
        ]);
        let tail = |n| ReadOptions {
            tail: Some(n),
            ..Default::default()
        };
        assert_eq!(show(&data, tail(2)), "b\nc\n");
        assert_eq!(show(&data, tail(0)), "");
        assert_eq!(show(&data, tail(10)), "a\nb\nc\n");
        let since = ReadOptions {
            since: Some("2024-01-01T12:00:01Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(show(&data, since), "b\nc\n");
        let limit = ReadOptions {
            limit_bytes: Some(3),
            ..Default::default()
        };
        assert_eq!(show(&data, limit), "a\nb");
        // A record cut in the middle of the file by a concurrent write is not lost: the
        // decoder keeps it until its newline comes.
        let mut d = Decoder::new(ReadOptions::default());
        let mut out = Vec::new();
        d.feed(&data[..30], &mut out);
        d.feed(&data[30..], &mut out);
        assert_eq!(concat(&out), b"a\nb\nc\n");
    }

    #[test]
    fn since_is_the_later_of_since_seconds_and_since_time() {
        let now: jiff::Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let t: jiff::Timestamp = "2024-01-01T11:59:30Z".parse().unwrap();
        assert_eq!(
            ReadOptions::since(now, Some(60), None),
            Some("2024-01-01T11:59:00Z".parse().unwrap())
        );
        assert_eq!(ReadOptions::since(now, Some(60), Some(t)), Some(t));
        assert_eq!(ReadOptions::since(now, None, None), None);
    }

    /// A reader that counts the bytes read through it.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl<R: Seek> Seek for Counting<R> {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn the_tail_of_a_large_log_reads_only_its_end() {
        let mut data = Vec::new();
        for i in 0..200_000 {
            format_record(
                &mut data,
                "2024-01-01T12:00:00.123456789Z",
                Stream::Stdout,
                false,
                format!("line {i}").as_bytes(),
            );
        }
        assert!(data.len() > 8_000_000);
        let mut r = Counting {
            inner: io::Cursor::new(&data),
            read: 0,
        };
        let pieces = read(
            &mut r,
            ReadOptions {
                tail: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
        let text = String::from_utf8(concat(&pieces)).unwrap();
        assert_eq!(text.lines().count(), 10);
        assert!(text.starts_with("line 199990\n"), "{text}");
        // One backward block to find the start, then the ten lines.
        assert!(
            r.read <= 2 * TAIL_BLOCK + 64 * 1024,
            "read {} bytes",
            r.read
        );
        assert!(r.read < 100_000, "read {} bytes", r.read);
    }

    #[test]
    fn tail_start_matches_the_kubelets_rule() {
        let mut c = io::Cursor::new(b"a\nb\nc\n".to_vec());
        assert_eq!(tail_start(&mut c, 1).unwrap(), 4);
        assert_eq!(tail_start(&mut c, 3).unwrap(), 0);
        assert_eq!(tail_start(&mut c, 0).unwrap(), 6);
        // A last line without a newline does not count.
        let mut c = io::Cursor::new(b"a\nb\nc".to_vec());
        assert_eq!(tail_start(&mut c, 1).unwrap(), 2);
        let mut c = io::Cursor::new(Vec::new());
        assert_eq!(tail_start(&mut c, 5).unwrap(), 0);
    }

    #[test]
    fn rotation_names_and_keeps_at_most_max_files() {
        let at = jiff::civil::date(2024, 1, 1).at(12, 0, 5, 0);
        assert_eq!(rotated_name("0.log", at), "0.log.20240101-120005");
        let rotated: Vec<String> = [
            "0.log.20240101-120003",
            "0.log.20240101-120001",
            "0.log.20240101-120002",
            "0.log.20240101-120004",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            excess_rotated(rotated.clone(), 5),
            vec!["0.log.20240101-120001".to_string()]
        );
        assert_eq!(excess_rotated(rotated, 2).len(), 4);
    }
}
