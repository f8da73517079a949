//! Administration: a backup of the ledger, streamed while the server keeps writing.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::engine::backup::{write_backup, BACKUP_HEAD_HASH_HEADER, BACKUP_POSITION_HEADER};
use crate::ledger::envelope::hash_hex;

/// Pieces of the backup waiting for the client: bounded, so a slow client makes the
/// reading thread wait instead of the server holding the backup in memory.
const BACKUP_CHANNEL_DEPTH: usize = 8;
/// Bytes per piece of the streamed body.
const BACKUP_PIECE_BYTES: usize = 256 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/admin/backup", get(backup))
}

/// The backup as an HTTP body: pieces from a bounded channel.
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|piece| piece.map(http_body::Frame::data)))
    }
}

/// A `Write` that sends pieces of [`BACKUP_PIECE_BYTES`] into the channel, waiting while
/// it is full (it runs on a blocking thread).
struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    piece: Vec<u8>,
}

impl ChannelWriter {
    fn send_piece(&mut self) -> std::io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(BACKUP_PIECE_BYTES));
        self.sender
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.piece.extend_from_slice(bytes);
        if self.piece.len() >= BACKUP_PIECE_BYTES {
            self.send_piece()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_piece()
    }
}

#[utoipa::path(get, path = "/v1/admin/backup", tag = "admin",
    responses((status = 200, description = "The backup file (format 1, see README: Operations), streamed; consistent as of one acknowledged position while writes continue. A backup that fails midway ends the connection without the file's trailer, which `kaledger verify --backup` refuses.",
        content_type = "application/octet-stream", body = Vec<u8>,
        headers(
            ("kaledger-backup-position" = u64, description = "the last position in the backup"),
            ("kaledger-backup-head-hash" = String, description = "the hash of that position's event (hex)")
        ))),
    security(("bearer" = [])))]
pub async fn backup(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Right::Backup)?;
    let engine = state.engine.clone();
    let point = tokio::task::spawn_blocking(move || engine.backup_point())
        .await
        .map_err(ApiError::internal)?;
    let position = point.head.position;
    let head_hash = hash_hex(&point.head.hash);
    let (sender, receiver) = mpsc::channel(BACKUP_CHANNEL_DEPTH);
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            sender,
            piece: Vec::with_capacity(BACKUP_PIECE_BYTES),
        };
        match write_backup(engine.store(), &point, &mut out) {
            Ok(counts) => tracing::info!(
                position,
                bytes = counts.bytes,
                events = counts.events,
                "backup sent"
            ),
            Err(e) => {
                tracing::error!(position, error = %e, "backup failed midway; the connection ends without the trailer");
                let _ = out
                    .sender
                    .blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let header_value = |value: String| HeaderValue::from_str(&value).map_err(ApiError::internal);
    let mut response = Response::new(Body::new(ChannelBody(receiver)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(format!(
            "attachment; filename=\"kaledger-{position}.backup\""
        ))?,
    );
    headers.insert(BACKUP_POSITION_HEADER, header_value(position.to_string())?);
    headers.insert(BACKUP_HEAD_HASH_HEADER, header_value(head_hash)?);
    Ok(response)
}
