//! Helpers shared by testkit's own tests.

use std::io::BufRead;

/// One response read off a kept-alive connection: status and body.
pub fn read_response(read: &mut impl BufRead) -> (u16, Vec<u8>) {
    let mut status_line = String::new();
    read.read_line(&mut status_line).unwrap();
    let status = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        read.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).unwrap();
    (status, body)
}
