//! The Debug Adapter Protocol's framing: `Content-Length: N\r\n\r\n` then N bytes of JSON.

use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest message body read, in bytes: a `Content-Length` above it is refused before
/// anything is allocated for it.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// The longest header line read, in bytes.
const MAX_HEADER_LINE: u64 = 8 * 1024;

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Read one message; `None` at the end of the input. A message longer than [`MAX_MESSAGE`]
/// (or a header line longer than 8 KiB), a header without `Content-Length` or with one that
/// is not a number is an `InvalidData` error. Blank lines between messages are skipped.
pub async fn read<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<Value>> {
    let mut length: Option<usize> = None;
    let mut in_header = false;
    let length = loop {
        let mut line = String::new();
        let read = (&mut *reader)
            .take(MAX_HEADER_LINE)
            .read_line(&mut line)
            .await?;
        if read == 0 {
            if in_header {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the input ended inside a message header",
                ));
            }
            return Ok(None);
        }
        if !line.ends_with('\n') && read as u64 == MAX_HEADER_LINE {
            return Err(invalid(format!(
                "a header line longer than {MAX_HEADER_LINE} bytes"
            )));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            match length {
                Some(length) => break length,
                None if in_header => {
                    return Err(invalid("a message header without Content-Length".into()));
                }
                None => continue,
            }
        }
        in_header = true;
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            let value = value.trim();
            length = Some(value.parse().map_err(|_| {
                invalid(format!("a Content-Length that is not a length: {value:?}"))
            })?);
        }
    };
    if length > MAX_MESSAGE {
        return Err(invalid(format!(
            "a message of {length} bytes is larger than the limit of {MAX_MESSAGE}"
        )));
    }
    // read what comes rather than allocate what the header claims
    let mut body = Vec::with_capacity(length.min(64 * 1024));
    (&mut *reader)
        .take(length as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < length {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "the input ended {} bytes into a message of {length}",
                body.len()
            ),
        ));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Write one message.
pub async fn write<W: AsyncWrite + Unpin, T: Serialize + ?Sized>(
    writer: &mut W,
    message: &T,
) -> std::io::Result<()> {
    let body = serde_json::to_string(message).map_err(|e| invalid(e.to_string()))?;
    writer
        .write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes())
        .await?;
    writer.write_all(body.as_bytes()).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_framed_messages() {
        let mut buf = Vec::new();
        write(&mut buf, &serde_json::json!({"seq": 1, "type": "request"}))
            .await
            .unwrap();
        write(&mut buf, &serde_json::json!({"seq": 2, "text": "ü"}))
            .await
            .unwrap();
        let mut reader = tokio::io::BufReader::new(&buf[..]);
        assert_eq!(read(&mut reader).await.unwrap().unwrap()["seq"], 1);
        assert_eq!(read(&mut reader).await.unwrap().unwrap()["text"], "ü");
        assert!(read(&mut reader).await.unwrap().is_none());
    }

    /// Found by the `dap` fuzz target (`fuzz/artifacts/dap/crash-95d12dd6…`): a number of
    /// 88 nines read as 1.0000000000000001e88, written so, and read back as 1e88, so a
    /// message written back was not the message read. serde_json's default float parsing is
    /// not correctly rounded for long numbers; its `float_roundtrip` feature is.
    #[tokio::test]
    async fn a_number_reads_back_as_written() {
        for number in [
            "9".repeat(88),
            "0.30000000000000004441".into(),
            "1e88".into(),
        ] {
            let input = format!("Content-Length: {}\r\n\r\n{number}", number.len());
            let mut reader = tokio::io::BufReader::new(input.as_bytes());
            let read_once = read(&mut reader).await.unwrap().unwrap();
            let mut written = Vec::new();
            write(&mut written, &read_once).await.unwrap();
            let mut reader = tokio::io::BufReader::new(&written[..]);
            assert_eq!(
                read(&mut reader).await.unwrap(),
                Some(read_once),
                "{number}"
            );
        }
    }

    /// Found while writing the `dap` fuzz target: a `Content-Length` beyond what the input
    /// held made the reader allocate that many bytes first (`usize::MAX` panicked with
    /// "capacity overflow"; a terabyte aborted the process, out of memory).
    #[tokio::test]
    async fn a_length_larger_than_the_input_is_an_error_not_an_allocation() {
        for length in [usize::MAX.to_string(), (1u64 << 40).to_string()] {
            let input = format!("Content-Length: {length}\r\n\r\n{{}}");
            let mut reader = tokio::io::BufReader::new(input.as_bytes());
            let err = read(&mut reader).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        }
        // a header line without end is refused once it passes the limit
        let input = "X".repeat(100_000);
        let mut reader = tokio::io::BufReader::new(input.as_bytes());
        let err = read(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
        // a length the input does not hold is the end of the input, as before
        let mut reader = tokio::io::BufReader::new(&b"Content-Length: 10\r\n\r\n{}"[..]);
        let err = read(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
        // a message the input holds is still read whole
        let body = format!("{{\"text\": \"{}\"}}", "x".repeat(1000));
        let input = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let mut reader = tokio::io::BufReader::new(input.as_bytes());
        assert_eq!(
            read(&mut reader).await.unwrap().unwrap()["text"]
                .as_str()
                .map(str::len),
            Some(1000)
        );
    }

    /// A header without `Content-Length` was skipped as if it were not there (its body then
    /// read as more header lines); it is refused, and so is a length that is not a number.
    /// Blank lines before a header are still skipped.
    #[tokio::test]
    async fn a_header_without_a_length_is_an_error_not_a_length_of_zero() {
        for input in [
            "Content-Type: application/json\r\n\r\n{}",
            "\r\n\r\nX-Other: 1\r\n\r\n{}",
            "{\"seq\": 1}\r\n\r\n",
            "Content-Length: two\r\n\r\n{}",
            "Content-Length: -2\r\n\r\n{}",
            "Content-Length:\r\n\r\n{}",
        ] {
            let mut reader = tokio::io::BufReader::new(input.as_bytes());
            let err = read(&mut reader).await.unwrap_err();
            assert_eq!(
                err.kind(),
                std::io::ErrorKind::InvalidData,
                "{input:?}: {err}"
            );
        }
        let mut reader = tokio::io::BufReader::new(&b"Content-Length: 2\r\n"[..]);
        let err = read(&mut reader).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
        let mut reader =
            tokio::io::BufReader::new(&b"\r\n\r\nContent-Length: 2\r\nX: y\r\n\r\n{}"[..]);
        assert_eq!(
            read(&mut reader).await.unwrap(),
            Some(serde_json::json!({}))
        );
        assert!(read(&mut reader).await.unwrap().is_none());
    }
}
