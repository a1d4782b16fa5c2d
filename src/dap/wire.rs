//! The Debug Adapter Protocol's framing: `Content-Length: N\r\n\r\n` then N bytes of JSON.

use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Read one message; `None` at the end of the input.
pub async fn read<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<Value>> {
    let mut length: Option<usize> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if length.is_some() {
                break;
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
    let length = length.unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Write one message.
pub async fn write<W: AsyncWrite + Unpin>(writer: &mut W, message: &Value) -> std::io::Result<()> {
    let body = message.to_string();
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
}
