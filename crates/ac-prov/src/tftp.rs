//! TFTP (RFC 1350) with option negotiation (RFC 2347), block size (RFC 2348), timeout and
//! transfer size (RFC 2349) and window size (RFC 7440): packet codec and a sans-IO read client.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Opcodes (RFC 1350 section 5, RFC 2347 section 2).
pub mod op {
    pub const RRQ: u16 = 1;
    pub const WRQ: u16 = 2;
    pub const DATA: u16 = 3;
    pub const ACK: u16 = 4;
    pub const ERROR: u16 = 5;
    pub const OACK: u16 = 6;
}

/// Error codes (RFC 1350 appendix; 8 from RFC 2347).
pub mod errcode {
    pub const NOT_DEFINED: u16 = 0;
    pub const FILE_NOT_FOUND: u16 = 1;
    pub const ACCESS_VIOLATION: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL_OPERATION: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const OPTION_REFUSED: u16 = 8;
}

/// Longest filename / option string accepted in a packet.
const MAX_STR: usize = 512;
/// Most options accepted in one request / OACK.
const MAX_OPTIONS: usize = 16;

/// A TFTP packet (borrowed view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq {
        filename: &'a str,
        mode: &'a str,
        options: Vec<(&'a str, &'a str)>,
    },
    Wrq {
        filename: &'a str,
        mode: &'a str,
        options: Vec<(&'a str, &'a str)>,
    },
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack {
        block: u16,
    },
    Error {
        code: u16,
        message: &'a str,
    },
    Oack {
        options: Vec<(&'a str, &'a str)>,
    },
}

/// Errors of the TFTP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TftpError {
    #[error("malformed TFTP packet: {0}")]
    Malformed(&'static str),
    #[error("server error {code}: {message}")]
    Server { code: u16, message: String },
    #[error("no answer from the server after {0} attempts")]
    TimedOut(u32),
    #[error("file larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("server negotiated an option we did not accept: {0}")]
    BadOack(String),
    #[error("unexpected packet: {0}")]
    Protocol(&'static str),
}

fn cstrs(mut b: &[u8], max: usize) -> Result<Vec<&str>, TftpError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if out.len() == max {
            return Err(TftpError::Malformed("too many strings"));
        }
        let n = b
            .iter()
            .position(|&c| c == 0)
            .ok_or(TftpError::Malformed("string without NUL terminator"))?;
        if n > MAX_STR {
            return Err(TftpError::Malformed("string too long"));
        }
        let s =
            std::str::from_utf8(&b[..n]).map_err(|_| TftpError::Malformed("string not UTF-8"))?;
        out.push(s);
        b = &b[n + 1..];
    }
    Ok(out)
}

fn pairs<'a>(s: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, TftpError> {
    if s.len() % 2 != 0 {
        return Err(TftpError::Malformed("option without value"));
    }
    Ok(s.chunks_exact(2).map(|c| (c[0], c[1])).collect())
}

impl<'a> Packet<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, TftpError> {
        if b.len() < 4 {
            return Err(TftpError::Malformed("shorter than 4 bytes"));
        }
        let opcode = u16::from_be_bytes([b[0], b[1]]);
        let rest = &b[2..];
        let n16 = u16::from_be_bytes([b[2], b[3]]);
        Ok(match opcode {
            op::RRQ | op::WRQ => {
                let s = cstrs(rest, 2 + 2 * MAX_OPTIONS)?;
                if s.len() < 2 {
                    return Err(TftpError::Malformed("request without filename and mode"));
                }
                let options = pairs(&s[2..])?;
                if opcode == op::RRQ {
                    Packet::Rrq {
                        filename: s[0],
                        mode: s[1],
                        options,
                    }
                } else {
                    Packet::Wrq {
                        filename: s[0],
                        mode: s[1],
                        options,
                    }
                }
            }
            op::DATA => Packet::Data {
                block: n16,
                data: &b[4..],
            },
            op::ACK => {
                if b.len() != 4 {
                    return Err(TftpError::Malformed("ACK is not 4 bytes"));
                }
                Packet::Ack { block: n16 }
            }
            op::ERROR => {
                let s = cstrs(&b[4..], 1)?;
                Packet::Error {
                    code: n16,
                    message: s.first().copied().unwrap_or(""),
                }
            }
            op::OACK => Packet::Oack {
                options: pairs(&cstrs(rest, 2 * MAX_OPTIONS)?)?,
            },
            _ => return Err(TftpError::Malformed("unknown opcode")),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let push_s = |v: &mut Vec<u8>, s: &str| {
            v.extend_from_slice(s.as_bytes());
            v.push(0);
        };
        match self {
            Packet::Rrq {
                filename,
                mode,
                options,
            }
            | Packet::Wrq {
                filename,
                mode,
                options,
            } => {
                let code = if matches!(self, Packet::Rrq { .. }) {
                    op::RRQ
                } else {
                    op::WRQ
                };
                v.extend_from_slice(&code.to_be_bytes());
                push_s(&mut v, filename);
                push_s(&mut v, mode);
                for (k, val) in options {
                    push_s(&mut v, k);
                    push_s(&mut v, val);
                }
            }
            Packet::Data { block, data } => {
                v.extend_from_slice(&op::DATA.to_be_bytes());
                v.extend_from_slice(&block.to_be_bytes());
                v.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                v.extend_from_slice(&op::ACK.to_be_bytes());
                v.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                v.extend_from_slice(&op::ERROR.to_be_bytes());
                v.extend_from_slice(&code.to_be_bytes());
                push_s(&mut v, message);
            }
            Packet::Oack { options } => {
                v.extend_from_slice(&op::OACK.to_be_bytes());
                for (k, val) in options {
                    push_s(&mut v, k);
                    push_s(&mut v, val);
                }
            }
        }
        v
    }
}

/// What the client asks for.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// RFC 2348 block size to request (8..=65464); 1468 fits an Ethernet frame.
    pub blksize: u16,
    /// RFC 7440 window size to request (1..=65535).
    pub windowsize: u16,
    /// Retransmission timeout, also sent as the RFC 2349 `timeout` option (1..=255 s).
    pub timeout: Duration,
    /// Retransmissions before giving up.
    pub retries: u32,
    /// Largest file accepted; also checked against `tsize` before the transfer starts.
    pub max_size: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            blksize: 1468,
            windowsize: 8,
            timeout: Duration::from_secs(2),
            retries: 5,
            max_size: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Requested,
    Transferring,
    Done,
    Failed,
}

/// Sans-IO TFTP read ("octet" mode) of one file.
#[derive(Debug)]
pub struct ReadClient {
    opts: ReadOptions,
    server: SocketAddr,
    tid: Option<SocketAddr>,
    st: St,
    blksize: usize,
    windowsize: u16,
    /// Last block number received in order (wraps at 65535 -> 0).
    last_block: u16,
    in_window: u16,
    data: Vec<u8>,
    tsize: Option<u64>,
    out: Vec<(SocketAddr, Vec<u8>)>,
    last_sent: Option<Vec<u8>>,
    deadline: Option<Instant>,
    attempts: u32,
    result: Option<Result<Vec<u8>, TftpError>>,
}

impl ReadClient {
    /// Starts reading `filename` from `server` (port 69 normally).
    pub fn new(server: SocketAddr, filename: &str, opts: ReadOptions, now: Instant) -> Self {
        let timeout_s = opts.timeout.as_secs().clamp(1, 255).to_string();
        let blk = opts.blksize.clamp(8, 65464).to_string();
        let win = opts.windowsize.max(1).to_string();
        let mut options = vec![
            ("blksize", blk.as_str()),
            ("tsize", "0"),
            ("timeout", timeout_s.as_str()),
        ];
        if opts.windowsize > 1 {
            options.push(("windowsize", win.as_str()));
        }
        let request = Packet::Rrq {
            filename,
            mode: "octet",
            options,
        }
        .encode();
        let mut c = ReadClient {
            server,
            tid: None,
            st: St::Requested,
            blksize: 512,
            windowsize: 1,
            last_block: 0,
            in_window: 0,
            data: Vec::new(),
            tsize: None,
            out: Vec::new(),
            last_sent: None,
            deadline: None,
            attempts: 0,
            result: None,
            opts,
        };
        c.send(server, request, now);
        c
    }

    fn send(&mut self, to: SocketAddr, p: Vec<u8>, now: Instant) {
        self.out.push((to, p.clone()));
        self.last_sent = Some(p);
        self.attempts = 0;
        self.deadline = Some(now + self.opts.timeout);
    }

    fn fail(&mut self, e: TftpError, notify: Option<(u16, &str)>) {
        if let (Some((code, msg)), Some(tid)) = (notify, self.tid) {
            self.out
                .push((tid, Packet::Error { code, message: msg }.encode()));
        }
        self.st = St::Failed;
        self.deadline = None;
        self.result = Some(Err(e));
    }

    /// The datagram to send next: `(destination, payload)`.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The outcome, once: the file's bytes or the error.
    pub fn poll_result(&mut self) -> Option<Result<Vec<u8>, TftpError>> {
        self.result.take()
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.data.len() as u64
    }

    /// Stops the transfer early (only a prefix was needed): returns the bytes received so far
    /// and the ERROR packet that tells the server to stop (RFC 1350 section 6 allows any
    /// error to terminate a transfer).
    pub fn abort(&mut self) -> (Vec<u8>, Option<(SocketAddr, Vec<u8>)>) {
        self.st = St::Failed;
        self.deadline = None;
        let pkt = self.tid.map(|t| {
            (
                t,
                Packet::Error {
                    code: errcode::NOT_DEFINED,
                    message: "transfer stopped by client",
                }
                .encode(),
            )
        });
        (std::mem::take(&mut self.data), pkt)
    }

    /// Negotiated block size and window size.
    pub fn negotiated(&self) -> (usize, u16) {
        (self.blksize, self.windowsize)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(d) = self.deadline else { return };
        if now < d {
            return;
        }
        if self.attempts >= self.opts.retries {
            self.fail(TftpError::TimedOut(self.attempts + 1), None);
            return;
        }
        self.attempts += 1;
        // RFC 1350 section 2 / RFC 7440 section 4: resend the last packet (request, or the ACK
        // of the last block received in order).
        if let Some(p) = self.last_sent.clone() {
            let to = self.tid.unwrap_or(self.server);
            self.out.push((to, p));
        }
        self.deadline = Some(now + self.opts.timeout);
    }

    fn apply_oack(&mut self, options: &[(&str, &str)]) -> Result<(), TftpError> {
        for (k, v) in options {
            let n: u64 = v
                .parse()
                .map_err(|_| TftpError::BadOack(format!("{k}={v}")))?;
            match k.to_ascii_lowercase().as_str() {
                // RFC 2348: the server may only lower the block size, never below 8.
                "blksize" if (8..=self.opts.blksize as u64).contains(&n) => {
                    self.blksize = n as usize
                }
                // RFC 7440: likewise for the window size.
                "windowsize" if (1..=self.opts.windowsize as u64).contains(&n) => {
                    self.windowsize = n as u16
                }
                "tsize" => self.tsize = Some(n),
                // RFC 2349: the server must echo the timeout we sent.
                "timeout" if n == self.opts.timeout.as_secs().clamp(1, 255) => {}
                _ => return Err(TftpError::BadOack(format!("{k}={v}"))),
            }
        }
        Ok(())
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_input(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if matches!(self.st, St::Failed) {
            return;
        }
        // RFC 1350 section 4: the first answer fixes the server's transfer id (port); packets
        // from another port get ERROR 5 and are otherwise ignored.
        match self.tid {
            None if from.ip() == self.server.ip() => self.tid = Some(from),
            None => return,
            Some(t) if t != from => {
                self.out.push((
                    from,
                    Packet::Error {
                        code: errcode::UNKNOWN_TID,
                        message: "Unknown transfer ID",
                    }
                    .encode(),
                ));
                return;
            }
            Some(_) => {}
        }
        let p = match Packet::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.fail(e, Some((errcode::ILLEGAL_OPERATION, "malformed packet")));
                return;
            }
        };
        match p {
            Packet::Error { code, message } => {
                self.st = St::Failed;
                self.deadline = None;
                self.result = Some(Err(TftpError::Server {
                    code,
                    message: message.to_string(),
                }));
            }
            Packet::Oack { options } if self.st == St::Requested => {
                if let Err(e) = self.apply_oack(&options) {
                    self.fail(e, Some((errcode::OPTION_REFUSED, "option refused")));
                    return;
                }
                if self.tsize.is_some_and(|t| t > self.opts.max_size) {
                    let limit = self.opts.max_size;
                    self.fail(
                        TftpError::TooLarge { limit },
                        Some((errcode::DISK_FULL, "file too large")),
                    );
                    return;
                }
                self.st = St::Transferring;
                // RFC 2347: the client acknowledges an OACK of a read with ACK 0.
                let to = from;
                self.send(to, Packet::Ack { block: 0 }.encode(), now);
            }
            Packet::Data { block, data }
                if matches!(self.st, St::Requested | St::Transferring | St::Done) =>
            {
                if self.st == St::Requested {
                    // No OACK: the server ignored our options (RFC 2347 section 4); defaults.
                    self.st = St::Transferring;
                    self.blksize = 512;
                    self.windowsize = 1;
                }
                if data.len() > self.blksize {
                    self.fail(
                        TftpError::Protocol("DATA larger than the block size"),
                        Some((errcode::ILLEGAL_OPERATION, "block too large")),
                    );
                    return;
                }
                let expected = self.last_block.wrapping_add(1);
                if self.st == St::Done || block != expected {
                    // Duplicate or out-of-order: acknowledge the last block received in order
                    // so the sender restarts the window there (RFC 7440 section 4).
                    self.in_window = 0;
                    let ack = Packet::Ack {
                        block: self.last_block,
                    }
                    .encode();
                    self.send(from, ack, now);
                    if self.st == St::Done {
                        self.deadline = None;
                    }
                    return;
                }
                if self.data.len() as u64 + data.len() as u64 > self.opts.max_size {
                    let limit = self.opts.max_size;
                    self.fail(
                        TftpError::TooLarge { limit },
                        Some((errcode::DISK_FULL, "file too large")),
                    );
                    return;
                }
                self.data.extend_from_slice(data);
                self.last_block = block;
                self.in_window += 1;
                let last = data.len() < self.blksize;
                if last || self.in_window >= self.windowsize {
                    self.in_window = 0;
                    self.send(from, Packet::Ack { block }.encode(), now);
                } else {
                    // Mid-window: nothing to send, but re-arm the timer.
                    self.deadline = Some(now + self.opts.timeout);
                    self.attempts = 0;
                }
                if last {
                    self.st = St::Done;
                    self.deadline = None;
                    if self.tsize.is_some_and(|t| t != self.data.len() as u64) {
                        self.result = Some(Err(TftpError::Protocol("size differs from tsize")));
                        return;
                    }
                    self.result = Some(Ok(std::mem::take(&mut self.data)));
                }
            }
            _ => {
                self.fail(
                    TftpError::Protocol("packet not expected in this state"),
                    Some((errcode::ILLEGAL_OPERATION, "unexpected packet")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], p))
    }

    /// A server for unit tests: serves `file` with the given block/window sizes, dropping
    /// the DATA packets whose index is in `drop` once. The integration tests use dnsmasq.
    fn run(
        file: &[u8],
        opts: ReadOptions,
        oack: bool,
        drop: &[usize],
    ) -> Result<Vec<u8>, TftpError> {
        let t0 = Instant::now();
        let mut now = t0;
        let mut c = ReadClient::new(addr(69), "f.img", opts.clone(), now);
        let srv = addr(40000);
        let (blk, win) = if oack {
            (opts.blksize as usize, opts.windowsize)
        } else {
            (512, 1)
        };
        let mut sent = 0usize; // DATA packets sent, for the drop list
        let mut dropped = std::collections::HashSet::new();
        let mut next_block: usize = 1; // 1-based index of next block to send
        let nblocks = file.len() / blk + 1;
        for _ in 0..100_000 {
            if let Some(r) = c.poll_result() {
                return r;
            }
            let mut acked = None;
            while let Some((_, p)) = c.poll_transmit() {
                match Packet::parse(&p).unwrap() {
                    // A repeated RRQ means our first answer was lost: answer again.
                    Packet::Rrq { .. } => {
                        if oack {
                            let b = blk.to_string();
                            let w = win.to_string();
                            let ts = file.len().to_string();
                            let o = Packet::Oack {
                                options: vec![("blksize", &b), ("windowsize", &w), ("tsize", &ts)],
                            }
                            .encode();
                            c.handle_input(now, srv, &o);
                            continue;
                        }
                        acked = Some(0);
                    }
                    Packet::Ack { block } => acked = Some(block as usize),
                    _ => {}
                }
            }
            if let Some(a) = acked {
                // Absolute block index after `a` (block numbers wrap).
                let base = next_block - 1;
                let diff = (a as u16).wrapping_sub(base as u16) as i32;
                let abs = if diff > 32768 {
                    base as i64 + diff as i64 - 65536
                } else {
                    base as i64 + diff as i64
                };
                next_block = abs as usize + 1;
                for i in 0..win as usize {
                    let b = next_block + i;
                    if b > nblocks {
                        break;
                    }
                    let chunk = &file[((b - 1) * blk).min(file.len())..(b * blk).min(file.len())];
                    sent += 1;
                    if drop.contains(&sent) && dropped.insert(sent) {
                        continue;
                    }
                    let d = Packet::Data {
                        block: b as u16,
                        data: chunk,
                    }
                    .encode();
                    c.handle_input(now, srv, &d);
                }
            } else {
                now = c.poll_timeout().unwrap_or(now);
                c.handle_timeout(now);
            }
        }
        panic!("no result")
    }

    #[test]
    fn packet_round_trip() {
        for p in [
            Packet::Rrq {
                filename: "420HD.img",
                mode: "octet",
                options: vec![("blksize", "1468")],
            },
            Packet::Data {
                block: 7,
                data: b"abc",
            },
            Packet::Ack { block: 65535 },
            Packet::Error {
                code: 1,
                message: "File not found",
            },
            Packet::Oack {
                options: vec![("tsize", "10")],
            },
        ] {
            assert_eq!(Packet::parse(&p.encode()).unwrap(), p);
        }
        assert!(Packet::parse(&[0, 9, 0, 0]).is_err());
        assert!(Packet::parse(&[0, 1, b'a']).is_err());
    }

    #[test]
    fn transfers_with_and_without_options() {
        let file: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let o = ReadOptions::default();
        assert_eq!(run(&file, o.clone(), true, &[]).unwrap(), file);
        assert_eq!(run(&file, o.clone(), false, &[]).unwrap(), file);
        // Exact multiple of the block size ends with an empty block.
        let f2 = vec![1u8; 512 * 3];
        assert_eq!(run(&f2, o.clone(), false, &[]).unwrap(), f2);
        // Lost packets inside a window are recovered.
        assert_eq!(run(&file, o.clone(), true, &[2, 5, 6]).unwrap(), file);
        assert_eq!(run(&file, o, false, &[1, 3]).unwrap(), file);
    }

    #[test]
    fn block_number_wraps() {
        let o = ReadOptions {
            blksize: 8,
            windowsize: 4,
            ..ReadOptions::default()
        };
        let file: Vec<u8> = (0..8 * 70_000u32).map(|i| i as u8).collect();
        assert_eq!(run(&file, o, true, &[]).unwrap(), file);
    }

    #[test]
    fn limits_and_errors() {
        let o = ReadOptions {
            max_size: 1000,
            ..ReadOptions::default()
        };
        let file = vec![0u8; 5000];
        assert_eq!(
            run(&file, o.clone(), true, &[]),
            Err(TftpError::TooLarge { limit: 1000 })
        );
        assert_eq!(
            run(&file, o, false, &[]),
            Err(TftpError::TooLarge { limit: 1000 })
        );
        let now = Instant::now();
        let mut c = ReadClient::new(addr(69), "x", ReadOptions::default(), now);
        c.poll_transmit().unwrap();
        c.handle_input(
            now,
            addr(5000),
            &Packet::Error {
                code: 1,
                message: "File not found",
            }
            .encode(),
        );
        assert!(matches!(
            c.poll_result(),
            Some(Err(TftpError::Server { code: 1, .. }))
        ));
        // Server silent: gives up after the retries.
        let mut c = ReadClient::new(addr(69), "x", ReadOptions::default(), now);
        let mut sends = 0;
        loop {
            while c.poll_transmit().is_some() {
                sends += 1;
            }
            let Some(d) = c.poll_timeout() else { break };
            c.handle_timeout(d);
        }
        assert_eq!(sends, 6);
        assert_eq!(c.poll_result(), Some(Err(TftpError::TimedOut(6))));
        // An OACK that raises the block size is refused with ERROR 8.
        let mut c = ReadClient::new(addr(69), "x", ReadOptions::default(), now);
        c.poll_transmit();
        c.handle_input(
            now,
            addr(5001),
            &Packet::Oack {
                options: vec![("blksize", "65464")],
            }
            .encode(),
        );
        assert!(matches!(c.poll_result(), Some(Err(TftpError::BadOack(_)))));
        let (_, e) = c.poll_transmit().unwrap();
        assert!(matches!(
            Packet::parse(&e).unwrap(),
            Packet::Error { code: 8, .. }
        ));
    }
}
