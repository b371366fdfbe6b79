//! The operator's view of keys and backups: `GET /api/v1/platform/keys` (what
//! `tessera keys status` prints) and `GET /api/v1/platform/backups`.

use axum::Json;
use axum::extract::State;

use super::backup::{BackupRecord, recorded};
use super::keys::{KeysStatus, status_of};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageQuery};
use crate::app::AppState;
use crate::auth::PlatformAccess;
use crate::error::{ApiError, ApiResult};

/// Reads the keyring the way `tessera keys status` does (the key file or
/// `TESSERA_MASTER_KEY` as they are now), so a rotation made beside the running server
/// shows at once.
pub async fn keys_status(State(state): State<AppState>, _platform: PlatformAccess) -> ApiResult<Json<KeysStatus>> {
    let config = state.config.clone();
    let status = state
        .store
        .run(move |store| {
            let keyring =
                crate::setup::load_keyring(&config).map_err(|e| ApiError::internal("load the keyring", &e))?;
            store.read(|conn| status_of(conn, &keyring)).map_err(ApiError::from)
        })
        .await?;
    Ok(Json(status))
}

/// Backups made with `tessera backup`, newest first.
pub async fn list_backups(
    State(state): State<AppState>,
    _platform: PlatformAccess,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<BackupRecord>>> {
    let limit = page.limit();
    let rows = state
        .store
        .read_async(move |conn| recorded(conn, page.cursor.as_deref(), limit))
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |b| b.id.clone())))
}
