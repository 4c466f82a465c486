//! A minimal blocking HTTP/1.1 client for talking to our own `blindmatch serve` (loadgen and
//! tests): plain `http://` only, one keep-alive connection per [`Conn`], `Content-Length` and
//! chunked responses. Not a general-purpose client: no TLS, no redirects, no proxies.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Read and write timeout of a connection.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest status line plus headers accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A response: status, headers in order (names as sent) and the whole body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive connection to a server.
pub struct Conn {
    /// `host:port`, also sent as the `Host` header.
    authority: String,
    stream: Option<BufReader<TcpStream>>,
    /// Requests answered on the current stream (0: fresh).
    used: u32,
}

/// Split `http://host:port/prefix` (or `host:port`) into the authority and the path prefix
/// (without a trailing slash; empty for none). `https://` is refused.
pub fn split_url(url: &str) -> io::Result<(String, String)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {what}"));
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(_) => return Err(bad("only http:// URLs are supported")),
        None => url,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.trim_end_matches('/').to_string()))
}

impl Conn {
    /// Connect to `127.0.0.1:8080` or `http://127.0.0.1:8080` (a path is ignored).
    pub fn connect(addr: &str) -> io::Result<Conn> {
        let (authority, _) = split_url(addr)?;
        let mut conn = Conn {
            authority,
            stream: None,
            used: 0,
        };
        conn.open()?;
        Ok(conn)
    }

    fn open(&mut self) -> io::Result<()> {
        let s = TcpStream::connect(&self.authority)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        self.stream = Some(BufReader::new(s));
        self.used = 0;
        Ok(())
    }

    /// Send one request and read its response. Reconnects when the connection is gone (the
    /// server closed it, or answered `Connection: close`); retries once, transparently, when a
    /// reused keep-alive connection turns out to have been closed by the server before it
    /// answered anything.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        if self.stream.is_none() || self.peer_closed() {
            self.open()?;
        }
        let head = self.head(method, path, headers, body.len());
        match self.exchange(&head, body, method) {
            Err(Exchange::Stale(_)) => {
                self.open()?;
                self.exchange(&head, body, method)
                    .map_err(Exchange::into_io)
            }
            r => r.map_err(Exchange::into_io),
        }
    }

    /// Whether the server already closed the idle connection (readable with nothing to read,
    /// or in error). Data waiting (unexpected) also counts: the stream is out of step.
    fn peer_closed(&mut self) -> bool {
        let Some(r) = self.stream.as_mut() else {
            return true;
        };
        if !r.buffer().is_empty() {
            return true;
        }
        let s = r.get_ref();
        if s.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let closed = match s.peek(&mut b) {
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
            Ok(_) => true, // EOF, or bytes nobody asked for
        };
        let restored = s.set_nonblocking(false).is_ok();
        closed || !restored
    }

    fn head(&self, method: &str, path: &str, headers: &[(&str, &str)], len: usize) -> Vec<u8> {
        let mut h = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.authority);
        for (n, v) in headers {
            h.push_str(&format!("{n}: {v}\r\n"));
        }
        if len > 0 || !matches!(method, "GET" | "HEAD") {
            h.push_str(&format!("Content-Length: {len}\r\n"));
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    fn exchange(&mut self, head: &[u8], body: &[u8], method: &str) -> Result<Response, Exchange> {
        let reused = self.used > 0;
        let r = self.stream.as_mut().ok_or_else(|| {
            Exchange::Fatal(io::Error::new(io::ErrorKind::NotConnected, "no stream"))
        })?;
        let sent = send(r.get_mut(), head, body);
        let got = sent.and_then(|()| read_response(r, method == "HEAD"));
        match got {
            Ok((resp, keep)) => {
                self.used += 1;
                if !keep {
                    self.stream = None;
                }
                Ok(resp)
            }
            Err(Failed { error, started }) => {
                self.stream = None;
                if reused && !started && is_disconnect(&error) {
                    Err(Exchange::Stale(error))
                } else {
                    Err(Exchange::Fatal(error))
                }
            }
        }
    }
}

/// How an exchange failed: on a stale keep-alive connection (retry), or otherwise.
enum Exchange {
    Stale(io::Error),
    Fatal(io::Error),
}

impl Exchange {
    fn into_io(self) -> io::Error {
        match self {
            Exchange::Stale(e) | Exchange::Fatal(e) => e,
        }
    }
}

/// An I/O error, and whether any byte of the response had arrived.
struct Failed {
    error: io::Error,
    started: bool,
}

impl From<io::Error> for Failed {
    fn from(error: io::Error) -> Failed {
        Failed {
            error,
            started: true,
        }
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

fn send(s: &mut TcpStream, head: &[u8], body: &[u8]) -> Result<(), Failed> {
    let mut buf = Vec::with_capacity(head.len() + body.len());
    buf.extend_from_slice(head);
    buf.extend_from_slice(body);
    s.write_all(&buf)
        .and_then(|()| s.flush())
        .map_err(|error| Failed {
            error,
            started: false,
        })
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Read one response (skipping `1xx` ones); also whether the connection may be reused.
fn read_response<R: BufRead>(r: &mut R, head_only: bool) -> Result<(Response, bool), Failed> {
    let mut first = true;
    loop {
        let (status, headers, keep) = read_head(r, first)?;
        first = false;
        if (100..200).contains(&status) {
            continue;
        }
        let no_body = head_only || status == 204 || status == 304;
        let (body, keep) = if no_body {
            (Vec::new(), keep)
        } else {
            read_body(r, &headers, keep)?
        };
        let resp = Response {
            status,
            headers,
            body,
        };
        return Ok((resp, keep));
    }
}

/// One line (without CRLF), counted against the head limit.
fn read_line<R: BufRead>(r: &mut R, budget: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r
        .by_ref()
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if n > *budget || line.last() != Some(&b'\n') {
        return Err(invalid("response head too long or truncated"));
    }
    *budget -= n;
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("response head is not UTF-8"))
}

type Head = (u16, Vec<(String, String)>, bool);

/// The status line and headers; `keep`: HTTP/1.1 without `Connection: close` (or 1.0 with
/// `keep-alive`). `first`: an EOF before any byte is reported as not started.
fn read_head<R: BufRead>(r: &mut R, first: bool) -> Result<Head, Failed> {
    let mut budget = MAX_HEAD;
    let line = read_line(r, &mut budget).map_err(|error| Failed {
        started: !(first && is_disconnect(&error)),
        error,
    })?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(r, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let connection = find(&headers, "connection").map(str::to_ascii_lowercase);
    let keep = match connection.as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => version == "HTTP/1.1",
    };
    Ok((status, headers, keep))
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The body by `Transfer-Encoding: chunked`, `Content-Length`, or else up to EOF (then the
/// connection is not reusable).
fn read_body<R: BufRead>(
    r: &mut R,
    headers: &[(String, String)],
    keep: bool,
) -> Result<(Vec<u8>, bool), Failed> {
    let chunked = find(headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return Ok((read_chunked(r)?, keep));
    }
    if let Some(len) = find(headers, "content-length") {
        let len: usize = len
            .parse()
            .ok()
            .filter(|&n| n <= MAX_BODY)
            .ok_or_else(|| invalid(format!("bad Content-Length {len:?}")))?;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        return Ok((body, keep));
    }
    let mut body = Vec::new();
    r.take(MAX_BODY as u64).read_to_end(&mut body)?;
    Ok((body, false))
}

fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let line = read_line(r, &mut budget)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .ok()
            .filter(|&n| n <= MAX_BODY - body.len())
            .ok_or_else(|| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(r, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        if !read_line(r, &mut budget)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

/// Percent-encode a path segment (an account id): everything but `A–Z a–z 0–9 - . _ ~`.
pub fn percent_encode(segment: &[u8]) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The intake body: each voucher as `LE32(len) ‖ bytes`, back to back.
pub fn frame<V: AsRef<[u8]>>(vouchers: &[V]) -> Vec<u8> {
    let total: usize = vouchers.iter().map(|v| 4 + v.as_ref().len()).sum();
    let mut out = Vec::with_capacity(total);
    for v in vouchers {
        let v = v.as_ref();
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    /// A request as the test server saw it.
    #[derive(Debug)]
    struct Seen {
        line: String,
        body: Vec<u8>,
    }

    /// Read one request (Content-Length bodies only); `None` at EOF.
    fn read_request(r: &mut BufReader<TcpStream>) -> Option<Seen> {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut len = 0;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().ok()?;
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).ok()?;
        Some(Seen {
            line: line.trim_end().to_string(),
            body,
        })
    }

    /// What the test server does with a request: answer with these bytes, or close the
    /// connection without answering (`None`).
    type Answer = fn(&Seen) -> Option<Vec<u8>>;

    /// A server accepting `conns` connections, answering up to `per_conn` requests on each.
    /// Returns its address, the connections accepted so far and its thread (which returns the
    /// requests seen).
    fn server(
        conns: usize,
        per_conn: usize,
        answer: Answer,
    ) -> (String, Arc<AtomicUsize>, thread::JoinHandle<Vec<Seen>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let c = accepted.clone();
        let h = thread::spawn(move || {
            let mut seen = Vec::new();
            for s in l.incoming().take(conns) {
                c.fetch_add(1, Ordering::SeqCst);
                let s = s.unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                for _ in 0..per_conn {
                    let Some(req) = read_request(&mut r) else {
                        break;
                    };
                    let a = answer(&req);
                    seen.push(req);
                    match a {
                        Some(bytes) => w.write_all(&bytes).unwrap(),
                        None => break,
                    }
                }
            }
            seen
        });
        (addr, accepted, h)
    }

    fn echo_len(req: &Seen) -> Option<Vec<u8>> {
        let body = format!("{} {}", req.line, req.body.len());
        let head = format!(
            "HTTP/1.1 202 Accepted\r\ncontent-length: {}\r\nX-Test: yes\r\n\r\n",
            body.len()
        );
        Some([head.into_bytes(), body.into_bytes()].concat())
    }

    fn chunked(_: &Seen) -> Option<Vec<u8>> {
        Some(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n".to_vec())
    }

    /// Answers everything but a request to `/drop`, on which it closes the connection.
    fn drop_on_path(req: &Seen) -> Option<Vec<u8>> {
        if req.line.starts_with("POST /drop ") {
            return None;
        }
        echo_len(req)
    }

    #[test]
    fn content_length_and_keep_alive_reuse() {
        let (addr, conns, h) = server(1, 10, echo_len);
        let mut c = Conn::connect(&format!("http://{addr}/")).unwrap();
        for i in 0..3 {
            let body = vec![7u8; i * 10];
            let r = c
                .request("POST", "/v1/x", &[("Content-Type", "a/b")], &body)
                .unwrap();
            assert_eq!(r.status, 202);
            assert_eq!(r.header("x-test"), Some("yes"));
            assert_eq!(r.text(), format!("POST /v1/x HTTP/1.1 {}", i * 10));
        }
        let r = c.request("GET", "/metrics", &[], &[]).unwrap();
        assert_eq!(r.text(), "GET /metrics HTTP/1.1 0");
        drop(c);
        let seen = h.join().unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(conns.load(Ordering::SeqCst), 1, "one keep-alive connection");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (addr, _, h) = server(1, 10, chunked);
        let mut c = Conn::connect(&addr).unwrap();
        for _ in 0..2 {
            let r = c.request("GET", "/", &[], &[]).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.text(), "hello, world");
        }
        drop(c);
        assert_eq!(h.join().unwrap().len(), 2);
    }

    #[test]
    fn reconnects_once_when_the_server_closed_an_idle_connection() {
        // The server answers one request per connection and closes it without saying so.
        let (addr, conns, h) = server(2, 1, echo_len);
        let mut c = Conn::connect(&addr).unwrap();
        assert_eq!(c.request("GET", "/a", &[], &[]).unwrap().status, 202);
        thread::sleep(Duration::from_millis(50));
        let r = c.request("POST", "/b", &[], b"xyz").unwrap();
        assert_eq!(r.text(), "POST /b HTTP/1.1 3");
        drop(c);
        assert_eq!(h.join().unwrap().len(), 2);
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn retries_once_when_a_reused_connection_closes_before_answering() {
        // The first connection answers `/a`, then reads `/drop` and closes without a byte
        // (the race of a server closing an idle connection); the second answers the retry.
        let (addr, conns, h) = server(2, 2, |req| {
            static DROPPED: AtomicUsize = AtomicUsize::new(0);
            if req.line.starts_with("POST /drop ") && DROPPED.fetch_add(1, Ordering::SeqCst) > 0 {
                return echo_len(req);
            }
            drop_on_path(req)
        });
        let mut c = Conn::connect(&addr).unwrap();
        assert_eq!(c.request("GET", "/a", &[], &[]).unwrap().status, 202);
        let r = c.request("POST", "/drop", &[], b"v").unwrap();
        assert_eq!(r.text(), "POST /drop HTTP/1.1 1");
        drop(c);
        assert_eq!(h.join().unwrap().len(), 3);
        assert_eq!(conns.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_fresh_connection_closing_is_an_error_not_a_retry() {
        let (addr, conns, h) = server(1, 1, drop_on_path);
        let mut c = Conn::connect(&addr).unwrap();
        assert!(c.request("POST", "/drop", &[], b"v").is_err());
        drop(c);
        assert_eq!(h.join().unwrap().len(), 1);
        assert_eq!(conns.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn eof_and_truncation() {
        let e = read_response(&mut BufReader::new(&b""[..]), false)
            .err()
            .unwrap();
        assert!(!e.started && is_disconnect(&e.error));
        let raw = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        let (resp, keep) = read_response(&mut BufReader::new(&raw[..]), false)
            .ok()
            .unwrap();
        assert_eq!((resp.text().as_str(), keep), ("all of it", false));
        let raw = b"HTTP/1.1 200 OK\r\nContent-Le";
        assert!(
            read_response(&mut BufReader::new(&raw[..]), false)
                .err()
                .unwrap()
                .started
        );
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc";
        assert!(read_response(&mut BufReader::new(&raw[..]), false).is_err());
    }

    #[test]
    fn skips_interim_responses_and_honours_connection_close() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let (resp, keep) = read_response(&mut BufReader::new(&raw[..]), false)
            .ok()
            .unwrap();
        assert_eq!(resp.status, 429);
        assert_eq!(resp.header("retry-after"), Some("2"));
        assert!(!keep);
    }

    #[test]
    fn urls() {
        let s = |u| split_url(u).unwrap();
        assert_eq!(s("127.0.0.1:8080"), ("127.0.0.1:8080".into(), "".into()));
        assert_eq!(s("http://h:1/"), ("h:1".into(), "".into()));
        assert_eq!(s("http://h/api/"), ("h:80".into(), "/api".into()));
        assert!(split_url("https://h:1").is_err());
        assert!(split_url("http:///x").is_err());
    }

    #[test]
    fn percent_encoding_and_framing() {
        assert_eq!(percent_encode(b"acct-00042"), "acct-00042");
        assert_eq!(percent_encode("a b/c@é".as_bytes()), "a%20b%2Fc%40%C3%A9");
        let f = frame(&[vec![1u8, 2, 3], vec![9u8]]);
        assert_eq!(f, [3, 0, 0, 0, 1, 2, 3, 1, 0, 0, 0, 9]);
        assert!(frame::<Vec<u8>>(&[]).is_empty());
    }
}
