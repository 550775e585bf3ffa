//! Users, sessions and failed sign-ins: the SQL half of [`AccountStore`].

use async_trait::async_trait;
use shequ_domain::access::Role;
use shequ_domain::codes::DivisionCode;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::sql::{SqlStore, audit_in, code_of};
use crate::{AccountStore, AuditEntry, NewUser, SessionRecord, UserRecord};

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.password_hash, u.role, \
     u.scope_code, u.active, u.must_change_password";

/// Inserts a user inside a transaction, refusing a taken username.
async fn insert_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: &NewUser,
    now: &str,
) -> Result<i64, StoreError> {
    let taken = sqlx::query("SELECT id FROM users WHERE username = $1")
        .bind(&user.username)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Err(StoreError::DuplicateUsername(user.username.clone()));
    }
    Ok(sqlx::query(
        "INSERT INTO users (username, display_name, password_hash, role, scope_code, active, \
         must_change_password, created_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7) RETURNING id",
    )
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.role.as_str())
    .bind(user.scope.as_str())
    .bind(i64::from(user.must_change_password))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?)
}

fn user_from_row(row: &AnyRow) -> Result<UserRecord, StoreError> {
    let role: String = row.try_get("role")?;
    let active: i64 = row.try_get("active")?;
    let must_change: i64 = row.try_get("must_change_password")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        scope: code_of(row, "scope_code")?,
        active: active != 0,
        must_change_password: must_change != 0,
    })
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    async fn swap_state(&self, key: &str, expected: &str, new: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query("UPDATE app_state SET value = $1 WHERE key = $2 AND value = $3")
            .bind(new)
            .bind(key)
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(changed == 1)
    }

    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> Result<i64, StoreError> {
        self.create_users(std::slice::from_ref(user), std::slice::from_ref(audit))
            .await?
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("no user id".into()))
    }

    async fn create_users(
        &self,
        users: &[NewUser],
        audits: &[AuditEntry],
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let now = jiff::Timestamp::now().to_string();
        let mut ids = Vec::with_capacity(users.len());
        for user in users {
            match insert_user(&mut tx, user, &now).await {
                Ok(id) => ids.push(id),
                Err(e) => {
                    tx.rollback().await?;
                    return Err(e);
                }
            }
        }
        for audit in audits {
            audit_in(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(
        &self,
        within: Option<&DivisionCode>,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let filter = if within.is_some() {
            "(s.code = $1 OR s.province_code = $1 OR s.prefecture_code = $1 \
             OR s.county_code = $1 OR s.township_code = $1)"
        } else {
            "($1 = $1)"
        };
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN units s ON s.code = u.scope_code \
             WHERE {filter} ORDER BY u.username"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(within.map_or_else(String::new, |c| c.as_str().to_string()))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_active(
        &self,
        user_id: i64,
        active: bool,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if !active {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(jiff::Timestamp::now().to_string())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let now = jiff::Timestamp::now().to_string();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf_token, s.last_seen_at, s.revoked_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(SessionRecord {
                user: user_from_row(&row)?,
                csrf_token: row.try_get("csrf_token")?,
                last_seen_at: row.try_get("last_seen_at")?,
                revoked: row.try_get::<Option<String>, _>("revoked_at")?.is_some(),
            })
        })
        .transpose()
    }

    async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        must_change: bool,
        keep: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(i64::from(must_change))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Whoever knew the old password must not stay signed in with it.
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
             AND token_hash <> $3",
        )
        .bind(jiff::Timestamp::now().to_string())
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_session(&self, token_hash: &str, now: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_unserialised_write().await?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_session(&self, token_hash: &str, audit: &AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(jiff::Timestamp::now().to_string())
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_sign_in_failure(
        &self,
        username: &str,
        client: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_unserialised_write().await?;
        sqlx::query("INSERT INTO sign_in_failures (username, client, at) VALUES ($1, $2, $3)")
            .bind(username)
            .bind(client)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await?;
        audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sign_in_failures_since(
        &self,
        username: &str,
        client: &str,
        since: &str,
    ) -> Result<(i64, i64), StoreError> {
        let by_user: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM sign_in_failures WHERE username = $1 AND at >= $2",
        )
        .bind(username)
        .bind(since)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        let by_client: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM sign_in_failures WHERE client = $1 AND at >= $2",
        )
        .bind(client)
        .bind(since)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((by_user, by_client))
    }
}
