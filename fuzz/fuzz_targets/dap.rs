//! The Debug Adapter Protocol's framing on arbitrary bytes: `dap::wire::read` takes
//! `Content-Length: N` headers and N bytes of JSON, message after message, until the input
//! ends or a message is refused; every message read is written back with `dap::wire::write`
//! and reads back the same.
#![no_main]

use flowdeck::dap::wire;
use libfuzzer_sys::fuzz_target;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Run a future that reads from memory: it never waits.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("reading from memory waited"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut reader = tokio::io::BufReader::new(data);
    while let Ok(Some(message)) = ready(wire::read(&mut reader)) {
        let mut written = Vec::new();
        ready(wire::write(&mut written, &message)).expect("writing to memory");
        let mut again = tokio::io::BufReader::new(&written[..]);
        let back = ready(wire::read(&mut again)).expect("reading back what was written");
        assert_eq!(back.as_ref(), Some(&message));
        assert!(matches!(ready(wire::read(&mut again)), Ok(None)));
    }
});
