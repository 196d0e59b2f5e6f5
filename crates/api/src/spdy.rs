//! The SPDY/3.1 framing kubectl's port-forward speaks (tunnelled in a WebSocket): frame
//! parsing and building, and the zlib header-block codec with the SPDY/3 dictionary
//! (SPDY draft 3 §2.2, §2.6, §2.6.10.1). No crate implements SPDY, so this is written by hand.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// SYN_STREAM.
pub const SYN_STREAM: u16 = 1;
/// SYN_REPLY.
pub const SYN_REPLY: u16 = 2;
/// RST_STREAM.
pub const RST_STREAM: u16 = 3;
/// PING.
pub const PING: u16 = 6;
/// GOAWAY.
pub const GOAWAY: u16 = 7;
/// FLAG_FIN.
pub const FLAG_FIN: u8 = 0x01;

/// The SPDY/3 header compression dictionary: 65 length-prefixed header words, then a run of
/// common values (status codes, dates, media types). Its Adler-32 is 0xe3c6a7c2.
pub fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut d = Vec::with_capacity(1423);
    for w in WORDS {
        d.extend_from_slice(&u32::try_from(w.len()).unwrap_or(0).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(TAIL.as_bytes());
    d
}

/// A parsed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A control frame: type, flags, body.
    Control {
        /// Frame type.
        kind: u16,
        /// Flags.
        flags: u8,
        /// Body.
        body: Vec<u8>,
    },
    /// A data frame.
    Data {
        /// Stream id.
        stream: u32,
        /// Flags.
        flags: u8,
        /// Payload.
        payload: Vec<u8>,
    },
}

/// Takes one complete frame off the front of `buf`, if there is one.
pub fn take_frame(buf: &mut Vec<u8>) -> Option<Frame> {
    if buf.len() < 8 {
        return None;
    }
    let len = (usize::from(buf[5]) << 16) | (usize::from(buf[6]) << 8) | usize::from(buf[7]);
    if buf.len() < 8 + len {
        return None;
    }
    let frame: Vec<u8> = buf.drain(..8 + len).collect();
    let flags = frame[4];
    let body = frame[8..].to_vec();
    if frame[0] & 0x80 != 0 {
        Some(Frame::Control {
            kind: u16::from_be_bytes([frame[2], frame[3]]),
            flags,
            body,
        })
    } else {
        let stream = u32::from_be_bytes([frame[0] & 0x7f, frame[1], frame[2], frame[3]]);
        Some(Frame::Data {
            stream,
            flags,
            payload: body,
        })
    }
}

fn len24(n: usize) -> [u8; 3] {
    [
        ((n >> 16) & 0xff) as u8,
        ((n >> 8) & 0xff) as u8,
        (n & 0xff) as u8,
    ]
}

/// A control frame's bytes.
pub fn control(kind: u16, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80, 3];
    f.extend_from_slice(&kind.to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&len24(body.len()));
    f.extend_from_slice(body);
    f
}

/// A data frame's bytes.
pub fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
    f.push(flags);
    f.extend_from_slice(&len24(payload.len()));
    f.extend_from_slice(payload);
    f
}

/// Why a header block could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// zlib failed.
    #[error("inflating a SPDY header block")]
    Inflate(#[source] flate2::DecompressError),
    /// zlib failed.
    #[error("deflating a SPDY header block")]
    Deflate(#[source] flate2::CompressError),
    /// The block's structure is wrong.
    #[error("malformed SPDY header block")]
    Malformed,
}

/// One direction's header compression context (one per session and direction).
pub struct HeaderCodec {
    inflate: Decompress,
    deflate: Compress,
    dict: Vec<u8>,
    deflate_started: bool,
}

impl std::fmt::Debug for HeaderCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderCodec")
    }
}

impl Default for HeaderCodec {
    fn default() -> Self {
        HeaderCodec {
            inflate: Decompress::new(true),
            deflate: Compress::new(Compression::default(), true),
            dict: dictionary(),
            deflate_started: false,
        }
    }
}

impl HeaderCodec {
    /// Inflates a header block into (name, value) pairs.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, HeaderError> {
        let mut out = Vec::with_capacity(block.len() * 4 + 64);
        let mut input = block;
        loop {
            let before_in = self.inflate.total_in();
            out.reserve(4096);
            match self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
            {
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(&self.dict)
                        .map_err(HeaderError::Inflate)?;
                }
                Err(e) => return Err(HeaderError::Inflate(e)),
            }
            let used = usize::try_from(self.inflate.total_in() - before_in).unwrap_or(0);
            input = &input[used.min(input.len())..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            if used == 0 && input.is_empty() {
                break;
            }
        }
        parse_block(&out)
    }

    /// Deflates (name, value) pairs into a header block (sync-flushed).
    pub fn encode(&mut self, headers: &[(&str, &str)]) -> Result<Vec<u8>, HeaderError> {
        let mut raw = u32::try_from(headers.len())
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec();
        for (k, v) in headers {
            raw.extend_from_slice(&u32::try_from(k.len()).unwrap_or(0).to_be_bytes());
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(&u32::try_from(v.len()).unwrap_or(0).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        if !self.deflate_started {
            self.deflate
                .set_dictionary(&self.dict)
                .map_err(HeaderError::Deflate)?;
            self.deflate_started = true;
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = &raw[..];
        loop {
            let before = self.deflate.total_in();
            out.reserve(256);
            let status = self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(HeaderError::Deflate)?;
            let used = usize::try_from(self.deflate.total_in() - before).unwrap_or(0);
            input = &input[used.min(input.len())..];
            if input.is_empty() && out.len() < out.capacity() || status == Status::StreamEnd {
                break;
            }
        }
        Ok(out)
    }
}

fn parse_block(b: &[u8]) -> Result<Vec<(String, String)>, HeaderError> {
    let mut i = 0;
    let u32_at = |i: &mut usize| -> Result<usize, HeaderError> {
        let s = b.get(*i..*i + 4).ok_or(HeaderError::Malformed)?;
        *i += 4;
        Ok(usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).unwrap_or(usize::MAX))
    };
    let n = u32_at(&mut i)?;
    let mut out = Vec::new();
    for _ in 0..n.min(1024) {
        let kl = u32_at(&mut i)?;
        let k = b
            .get(i..i.saturating_add(kl))
            .ok_or(HeaderError::Malformed)?;
        i += kl;
        let vl = u32_at(&mut i)?;
        let v = b
            .get(i..i.saturating_add(vl))
            .ok_or(HeaderError::Malformed)?;
        i += vl;
        out.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adler32(d: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in d {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn the_dictionary_is_the_spdy3_one() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert_eq!(adler32(&d), 0xe3c6_a7c2);
    }

    #[test]
    fn header_blocks_round_trip_across_a_session() {
        let mut tx = HeaderCodec::default();
        let mut rx = HeaderCodec::default();
        for i in 0..3 {
            let id = i.to_string();
            let block = tx
                .encode(&[("streamtype", "data"), ("port", "8080"), ("requestid", &id)])
                .unwrap();
            if i == 0 {
                // zlib header with FDICT and the dictionary's Adler-32.
                assert_eq!(block[0], 0x78);
                assert_eq!(block[1] & 0x20, 0x20, "FDICT set");
                assert_eq!(&block[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
            }
            let h = rx.decode(&block).unwrap();
            assert_eq!(
                h,
                vec![
                    ("streamtype".into(), "data".into()),
                    ("port".into(), "8080".into()),
                    ("requestid".into(), id)
                ]
            );
        }
    }

    #[test]
    fn frames_split_across_messages_are_reassembled() {
        let f = data(3, FLAG_FIN, b"hello");
        let mut buf = f[..5].to_vec();
        assert_eq!(take_frame(&mut buf), None);
        buf.extend_from_slice(&f[5..]);
        assert_eq!(
            take_frame(&mut buf),
            Some(Frame::Data {
                stream: 3,
                flags: FLAG_FIN,
                payload: b"hello".to_vec()
            })
        );
        let c = control(PING, 0, &7u32.to_be_bytes());
        let mut buf = c.clone();
        assert_eq!(
            take_frame(&mut buf),
            Some(Frame::Control {
                kind: PING,
                flags: 0,
                body: 7u32.to_be_bytes().to_vec()
            })
        );
    }
}
