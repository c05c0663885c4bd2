//! Reading request bodies under a size limit, without ever panicking.
//!
//! An over-limit body is still drained (up to a hard cap) so the client gets
//! the API's error answer instead of a reset connection in mid-upload.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::app::Settings;

/// Past this many bytes the sandbox stops draining and drops the connection.
const DRAIN_CAP: usize = 16 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the configured limit.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    Io,
    /// The body did not arrive whole within the body read timeout.
    TimedOut,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
            BodyError::Io => f.write_str("request body could not be read"),
            BodyError::TimedOut => f.write_str("request body did not arrive in time"),
        }
    }
}

/// Reads the whole body, refusing more than the configured body limit and a
/// body that trickles in for longer than the body read timeout.
pub(crate) async fn read_limited(body: Body, settings: &Settings) -> Result<Bytes, BodyError> {
    tokio::time::timeout(
        settings.limits.body_read_timeout,
        read_within(body, settings.body_limit),
    )
    .await
    .unwrap_or(Err(BodyError::TimedOut))
}

async fn read_within(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = body;
    let mut buf = BytesMut::new();
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Io)?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > DRAIN_CAP {
                return Err(BodyError::Io);
            }
            if seen <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if seen > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(buf.freeze())
}
