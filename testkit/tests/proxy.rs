//! The relay passes answers on as they came, or damaged as asked.

mod common;

use std::io::{BufReader, Write};
use std::net::TcpStream;

use common::read_response;
use testkit::http::{Response, Server};
use testkit::proxy::{self, Fault};

#[test]
fn the_relay_passes_answers_on_or_flips_the_last_body_bit() {
    let upstream = Server::start(|request| Response::new(200, format!("{} abc", request.path()))).unwrap();
    for (fault, want) in [(Fault::None, "/x abc"), (Fault::FlipLastBodyBit, "/x abb")] {
        let relay = proxy::start(upstream.addr(), fault).unwrap();
        // The relay keeps the client's connection open, as a proxy would:
        // the answer is read by its length, not to the end.
        let mut stream = TcpStream::connect(relay).unwrap();
        stream.write_all(b"GET /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
        let (status, body) = read_response(&mut BufReader::new(stream));
        assert_eq!((status, String::from_utf8_lossy(&body).as_ref()), (200, want), "{fault:?}");
    }
}
