//! Our stream transports answer keep-alive pings (RFC 5626 3.5.1): a double CRLF gets a single
//! CRLF back, and a ping in front of a request does not disturb the request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_double_crlf_ping_gets_a_single_crlf_pong_and_requests_still_work() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut uas = Command::new(env!("CARGO_BIN_EXE_ac-sip-ua"))
        .args([
            "serve",
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--duration",
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(uas.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "{first}");

    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"\r\n\r\n").unwrap();
    let mut pong = [0u8; 2];
    c.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");

    // A ping and an OPTIONS in one write: the pong, then the 200.
    let local = c.local_addr().unwrap();
    let req = format!(
        "\r\n\r\nOPTIONS sip:ua@127.0.0.1:{port};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bKka1\r\nFrom: <sip:t@test>;tag=1\r\n\
         To: <sip:ua@127.0.0.1>\r\nCall-ID: ka-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") || got.len() < 20 {
        let n = c.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "connection closed: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("\r\nSIP/2.0 200 "), "{text:?}");
    assert!(text.contains("CSeq: 1 OPTIONS"), "{text:?}");
    let _ = uas.kill();
    let _ = uas.wait();
}
