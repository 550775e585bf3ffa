//! Accounts and sessions: creating users within one's scope, signing in with lockout,
//! sessions by token (cookie or bearer), signing out.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use shequ_domain::access::{self, Actor, Role};
use shequ_domain::codes::DivisionCode;
use shequ_store::{NewUser, StoreError, UserRecord};

use crate::{App, AppError, Caller};

/// Failed sign-ins for one username within the window before it is locked.
pub const USERNAME_FAILURE_LIMIT: i64 = 5;
/// Failed sign-ins from one client address within the window before it is refused.
pub const CLIENT_FAILURE_LIMIT: i64 = 50;
/// The lockout window.
pub const FAILURE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// A session unused for this long has ended.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(2);
/// The idle time in seconds, for the cookie's lifetime.
pub const SESSION_IDLE_SECONDS: i64 = SESSION_IDLE.as_secs();
/// Sessions are marked used at most this often, to spare writes.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_mins(1);
/// Most users one bulk import creates (each needs a slow password hash).
const MAX_IMPORT_USERS: usize = 2000;
/// State key holding the hash of the one-time setup token.
const SETUP_KEY: &str = "setup_token_hash";
/// The one message for an unknown user and a wrong password.
const BAD_CREDENTIALS: &str = "用户名或密码不正确";
const MAX_DISPLAY_NAME_CHARS: usize = 50;

/// What creating a user needs, as a person or a file gives it.
#[derive(Debug, Clone)]
pub struct UserRequest {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
    pub password: String,
    /// Whether the user must choose a new password at first sign-in (handed-out passwords).
    pub must_change_password: bool,
}

/// A user as others may see it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope: DivisionCode,
    pub must_change_password: bool,
    pub active: bool,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            scope: u.scope.clone(),
            must_change_password: u.must_change_password,
            active: u.active,
        }
    }
}

/// A new session: the token goes to the client once; only its hash is stored.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub user: UserView,
}

/// A request's signed-in user and session.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    pub user: UserView,
    pub csrf_token: String,
    token_hash: String,
}

fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(format!("系统随机数不可用：{e}")))?;
    Ok(hex::encode(bytes))
}

/// A first password to hand out: 12 characters without look-alikes, letters and digits both.
pub fn first_password() -> Result<String, AppError> {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Internal(format!("系统随机数不可用：{e}")))?;
    let password: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // Positions 3 and 8 are digits so that the rule always holds.
            let set = if i == 3 || i == 8 { DIGITS } else { LETTERS };
            char::from(set[usize::from(*b) % set.len()])
        })
        .collect();
    Ok(password)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashing is deliberately slow, so it runs off the async threads.
async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("密码处理失败：{e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

/// A hash to verify against when the username is unknown, so both cases take the same time.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn dummy_hash() -> Result<String, AppError> {
    if let Some(hash) = DUMMY_HASH.get() {
        return Ok(hash.clone());
    }
    let hash = hash_password(random_token()?).await?;
    Ok(DUMMY_HASH.get_or_init(|| hash).clone())
}

impl App {
    /// Checks everything about a new user except its password: the caller must be allowed to
    /// manage that role at that unit.
    async fn check_new_user(
        &self,
        caller: &Caller,
        username: &str,
        display_name: &str,
        role: &str,
        unit: &str,
    ) -> Result<(String, String, Role, crate::UnitView), AppError> {
        let username = username.trim().to_lowercase();
        access::check_username(&username).map_err(AppError::BadRequest)?;
        let display_name = display_name.trim().to_string();
        if display_name.is_empty()
            || display_name.chars().count() > MAX_DISPLAY_NAME_CHARS
            || display_name.chars().any(shequ_domain::text::is_hidden)
        {
            return Err(AppError::BadRequest(format!(
                "姓名须为 1 至 {MAX_DISPLAY_NAME_CHARS} 个字符，不能含控制字符"
            )));
        }
        let role = Role::parse(role).ok_or_else(|| {
            AppError::BadRequest(format!(
                "角色“{}”无效，应为 province_admin、officer、community_worker、evaluator 或 viewer",
                shequ_domain::text::excerpt(role, 30)
            ))
        })?;
        let unit = self.unit(unit).await.map_err(|e| match e {
            AppError::NotFound(m) | AppError::BadRequest(m) => {
                AppError::BadRequest(format!("所属单位无效：{m}"))
            }
            other => other,
        })?;
        if unit.unit.closed_on.is_some() {
            return Err(AppError::BadRequest(format!(
                "单位 {} 已撤销",
                unit.unit.code
            )));
        }
        let path: Vec<DivisionCode> = unit.path.iter().map(|r| r.code.clone()).collect();
        access::may_manage_user(&caller.actor, role, &path).map_err(AppError::Forbidden)?;
        access::check_role_scope(role, &unit.unit.code, unit.unit.kind.is_community())
            .map_err(AppError::BadRequest)?;
        Ok((username, display_name, role, unit))
    }

    /// Everything about a user request, its password included.
    async fn check_user_request(
        &self,
        caller: &Caller,
        request: &UserRequest,
    ) -> Result<(String, String, Role, crate::UnitView), AppError> {
        let checked = self
            .check_new_user(
                caller,
                &request.username,
                &request.display_name,
                &request.role,
                &request.unit,
            )
            .await?;
        access::check_password(&request.password).map_err(AppError::BadRequest)?;
        Ok(checked)
    }

    /// Creates a user: the caller must be allowed to manage that role at that unit.
    pub async fn create_user(
        &self,
        caller: &Caller,
        request: UserRequest,
    ) -> Result<UserView, AppError> {
        let (username, display_name, role, unit) =
            self.check_user_request(caller, &request).await?;
        let password_hash = hash_password(request.password).await?;
        let audit = caller.audit(
            "user.create",
            Some(&unit.unit.code),
            &username,
            &format!(
                "新建用户 {username}（{display_name}），角色 {role}，单位 {}",
                unit.unit.name
            ),
        );
        let new_user = NewUser {
            username,
            display_name,
            password_hash,
            role,
            scope: unit.unit.code.clone(),
            must_change_password: request.must_change_password,
        };
        let id = self
            .store
            .create_user(&new_user, &audit)
            .await
            .map_err(|e| match e {
                StoreError::DuplicateUsername(_) => AppError::BadRequest(e.to_string()),
                other => other.into(),
            })?;
        Ok(UserView {
            id,
            username: new_user.username,
            display_name: new_user.display_name,
            role,
            scope: new_user.scope,
            must_change_password: new_user.must_change_password,
            active: true,
        })
    }

    /// Creates every user of a list (CSV or spreadsheet), each with a first password to hand
    /// out and change at first sign-in; all of them or, if any row is wrong, none.
    pub async fn import_users(
        &self,
        caller: &Caller,
        file: &shequ_interchange::SourceFile,
    ) -> Result<Vec<(String, String)>, AppError> {
        let rows = shequ_interchange::users::read_users(file).map_err(AppError::InvalidFile)?;
        if rows.len() > MAX_IMPORT_USERS {
            return Err(AppError::BadRequest(format!(
                "一次最多导入 {MAX_IMPORT_USERS} 个用户，本文件有 {} 行；请分批导入",
                rows.len()
            )));
        }
        let mut problems = Vec::new();
        let mut checked = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for row in &rows {
            let at = |problem: String| {
                shequ_interchange::FileProblem::at(&row.origin.file, row.origin.line, None, problem)
            };
            if let Some(first) = seen.insert(row.username.trim().to_lowercase(), row.origin.line) {
                problems.push(at(format!(
                    "用户名 {} 与第 {first} 行重复",
                    row.username.trim()
                )));
                continue;
            }
            match self
                .check_new_user(caller, &row.username, &row.name, &row.role, &row.unit)
                .await
            {
                Ok(user) => {
                    if self.store.user_by_username(&user.0).await?.is_some() {
                        problems.push(at(format!("用户名 {} 已被使用", user.0)));
                    } else {
                        checked.push(user);
                    }
                }
                Err(e) if e.is_client_error() => problems.push(at(e.to_string())),
                Err(e) => return Err(e),
            }
        }
        if !problems.is_empty() {
            return Err(AppError::InvalidFile(problems));
        }
        let mut users = Vec::new();
        let mut handed_out = Vec::new();
        for (username, display_name, role, unit) in checked {
            let password = first_password()?;
            users.push(NewUser {
                username: username.clone(),
                display_name,
                password_hash: hash_password(password.clone()).await?,
                role,
                scope: unit.unit.code,
                must_change_password: true,
            });
            handed_out.push((username, password));
        }
        let audits: Vec<shequ_store::AuditEntry> = users
            .iter()
            .map(|u| {
                caller.audit(
                    "user.import",
                    Some(&u.scope),
                    &u.username,
                    &format!(
                        "从 {} 批量新建用户 {}（{}），角色 {}",
                        file.name, u.username, u.display_name, u.role
                    ),
                )
            })
            .collect();
        self.store
            .create_users(&users, &audits)
            .await
            .map_err(|e| match e {
                StoreError::DuplicateUsername(_) => AppError::BadRequest(e.to_string()),
                other => other.into(),
            })?;
        Ok(handed_out)
    }

    /// The users the caller may manage: all for a province admin, those in scope for an
    /// officer (with `within` narrowing to a subtree).
    pub async fn list_users(
        &self,
        caller: &Caller,
        within: Option<&str>,
    ) -> Result<Vec<UserView>, AppError> {
        let scope = self
            .supervised_scope(caller, within, "您没有管理用户的权限")
            .await?;
        let users = self.store.list_users(scope.as_ref()).await?;
        Ok(users.iter().map(UserView::from).collect())
    }

    /// A user the caller may manage, by username.
    async fn managed_user(&self, caller: &Caller, username: &str) -> Result<UserRecord, AppError> {
        // Roles that manage no one learn nothing about which usernames exist.
        if let Actor::User { role, .. } = &caller.actor
            && !matches!(role, Role::ProvinceAdmin | Role::Officer)
        {
            return Err(AppError::Forbidden("您没有管理用户的权限".into()));
        }
        let user = self
            .store
            .user_by_username(username.trim())
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "用户 {} 不存在",
                    shequ_domain::text::excerpt(username, 32)
                ))
            })?;
        let mut path = self.store.ancestor_codes(&user.scope).await?;
        path.push(user.scope.clone());
        access::may_manage_user(&caller.actor, user.role, &path).map_err(AppError::Forbidden)?;
        if let Actor::User { id, .. } = &caller.actor
            && *id == user.id
        {
            return Err(AppError::Forbidden(
                "不能停用或重置自己的账户；修改本人密码请到“我的账户”".into(),
            ));
        }
        Ok(user)
    }

    /// Deactivates (ending its sessions) or reactivates a user.
    pub async fn set_user_active(
        &self,
        caller: &Caller,
        username: &str,
        active: bool,
    ) -> Result<(), AppError> {
        let user = self.managed_user(caller, username).await?;
        let (action, summary) = if active {
            ("user.activate", "启用")
        } else {
            ("user.deactivate", "停用（结束其全部会话）")
        };
        let audit = caller.audit(action, Some(&user.scope), &user.username, summary);
        self.store.set_user_active(user.id, active, &audit).await?;
        Ok(())
    }

    /// Gives a user a new random password to hand out; it must be changed at first sign-in.
    pub async fn reset_password(
        &self,
        caller: &Caller,
        username: &str,
    ) -> Result<String, AppError> {
        let user = self.managed_user(caller, username).await?;
        let password = first_password()?;
        let hash = hash_password(password.clone()).await?;
        let audit = caller.audit(
            "user.reset_password",
            Some(&user.scope),
            &user.username,
            "重置密码（须在首次登录时修改）",
        );
        self.store
            .set_password(user.id, &hash, true, None, &audit)
            .await?;
        Ok(password)
    }

    pub async fn user_count(&self) -> Result<i64, AppError> {
        Ok(self.store.count_users().await?)
    }

    /// Signs in: the same refusal for an unknown user and a wrong password, and a lockout
    /// after repeated failures for a username or from a client address.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<SignedIn, AppError> {
        let username = shequ_domain::text::excerpt(username.trim(), 64).to_lowercase();
        if let Err(locked) = self.check_lockout(&username, client).await {
            let audit = shequ_store::AuditEntry {
                actor: username.replace(['\r', '\n'], " "),
                role: "anonymous".into(),
                action: "auth.sign_in_locked".into(),
                unit: None,
                object: username.replace(['\r', '\n'], " "),
                summary: "登录被拒绝（失败次数过多）".into(),
                client: client.to_string(),
            };
            self.store.append_audit(&audit).await?;
            return Err(locked);
        }
        let user = self.store.user_by_username(&username).await?;
        let (hash, active) = match &user {
            Some(u) => (u.password_hash.clone(), u.active),
            None => (dummy_hash().await?, false),
        };
        let valid = verify_password(password.to_string(), hash).await?;
        let (Some(user), true, true) = (user, valid, active) else {
            let audit = shequ_store::AuditEntry {
                actor: username.replace(['\r', '\n'], " "),
                role: "anonymous".into(),
                action: "auth.sign_in_failed".into(),
                unit: None,
                object: username.replace(['\r', '\n'], " "),
                summary: "登录失败".into(),
                client: client.to_string(),
            };
            self.store
                .record_sign_in_failure(&username, client, &audit)
                .await?;
            return Err(AppError::Unauthenticated(BAD_CREDENTIALS.into()));
        };
        let token = random_token()?;
        let csrf_token = random_token()?;
        let caller = caller_for(&user, client);
        let audit = caller.audit("auth.sign_in", Some(&user.scope), &user.username, "登录");
        self.store
            .create_session(&token_hash(&token), user.id, &csrf_token, &audit)
            .await?;
        Ok(SignedIn {
            token,
            csrf_token,
            user: UserView::from(&user),
        })
    }

    /// Refuses while a username or client address has failed too often recently.
    async fn check_lockout(&self, username: &str, client: &str) -> Result<(), AppError> {
        let since = (Timestamp::now() - FAILURE_WINDOW).to_string();
        let (by_user, by_client) = self
            .store
            .sign_in_failures_since(username, client, &since)
            .await?;
        if by_user >= USERNAME_FAILURE_LIMIT || by_client >= CLIENT_FAILURE_LIMIT {
            return Err(AppError::TooManyAttempts(
                "失败次数过多，请 15 分钟后再试".into(),
            ));
        }
        Ok(())
    }

    /// The session a token names, if it is current; marks it used.
    pub async fn session(&self, token: &str, client: &str) -> Result<Session, AppError> {
        let ended = || AppError::Unauthenticated("未登录或登录已过期，请重新登录".into());
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ended());
        }
        let hash = token_hash(token);
        let record = self.store.session(&hash).await?.ok_or_else(ended)?;
        let now = Timestamp::now();
        let last_seen: Timestamp = record
            .last_seen_at
            .parse()
            .map_err(|_| AppError::Internal("会话时间无法解读".into()))?;
        if record.revoked || !record.user.active || now - last_seen > SESSION_IDLE {
            return Err(ended());
        }
        if now - last_seen > TOUCH_EVERY {
            self.store.touch_session(&hash, &now.to_string()).await?;
        }
        Ok(Session {
            caller: caller_for(&record.user, client),
            user: UserView::from(&record.user),
            csrf_token: record.csrf_token,
            token_hash: hash,
        })
    }

    /// Changes one's own password: the current one must be right and the new one must follow
    /// the rule and differ from it.
    pub async fn change_own_password(
        &self,
        session: &Session,
        current: &str,
        new: &str,
    ) -> Result<(), AppError> {
        let user = self
            .store
            .user_by_username(&session.user.username)
            .await?
            .ok_or_else(|| AppError::Unauthenticated("用户不存在".into()))?;
        // Guessing the current password counts like a failed sign-in, with the same lockout.
        let client = session.caller.client.clone();
        self.check_lockout(&user.username, &client).await?;
        if !verify_password(current.to_string(), user.password_hash.clone()).await? {
            let audit = session.caller.audit(
                "user.change_password_failed",
                Some(&user.scope),
                &user.username,
                "修改密码时当前密码不正确",
            );
            self.store
                .record_sign_in_failure(&user.username, &client, &audit)
                .await?;
            return Err(AppError::BadRequest("当前密码不正确".into()));
        }
        if current == new {
            return Err(AppError::BadRequest("新密码不能与当前密码相同".into()));
        }
        access::check_password(new).map_err(AppError::BadRequest)?;
        let hash = hash_password(new.to_string()).await?;
        let audit = session.caller.audit(
            "user.change_password",
            Some(&user.scope),
            &user.username,
            "修改本人密码",
        );
        self.store
            .set_password(user.id, &hash, false, Some(&session.token_hash), &audit)
            .await?;
        Ok(())
    }

    /// With no users yet, makes the one-time setup token (its hash is kept; a new start makes
    /// a new one). None once any user exists.
    pub async fn prepare_setup(&self) -> Result<Option<String>, AppError> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let token = random_token()?;
        self.store.set_state(SETUP_KEY, &token_hash(&token)).await?;
        Ok(Some(token))
    }

    /// Whether a setup token is the current one and no user exists yet.
    pub async fn setup_token_valid(&self, token: &str) -> Result<bool, AppError> {
        if self.store.count_users().await? > 0 {
            return Ok(false);
        }
        Ok(self.store.state(SETUP_KEY).await?.as_deref() == Some(token_hash(token).as_str()))
    }

    /// Creates the first province admin through the setup link, which is then used up.
    pub async fn complete_setup(
        &self,
        token: &str,
        mut request: UserRequest,
        client: &str,
    ) -> Result<UserView, AppError> {
        let used_up = || AppError::NotFound("初始化链接无效或已使用".into());
        if !self.setup_token_valid(token).await? {
            return Err(used_up());
        }
        request.role = Role::ProvinceAdmin.as_str().to_string();
        request.must_change_password = false;
        let setup = Caller {
            actor: Actor::Operator {
                os_user: "setup-link".into(),
            },
            client: client.to_string(),
        };
        // Check the form first so a mistake does not use up the link; then exactly one of
        // any concurrent submissions takes it.
        self.check_user_request(&setup, &request).await?;
        if !self
            .store
            .swap_state(SETUP_KEY, &token_hash(token), "used")
            .await?
        {
            return Err(used_up());
        }
        self.create_user(&setup, request).await
    }

    pub async fn sign_out(&self, session: &Session) -> Result<(), AppError> {
        let audit = session.caller.audit(
            "auth.sign_out",
            Some(&session.user.scope),
            &session.user.username,
            "退出登录",
        );
        self.store
            .revoke_session(&session.token_hash, &audit)
            .await?;
        Ok(())
    }
}

fn caller_for(user: &UserRecord, client: &str) -> Caller {
    Caller {
        actor: Actor::User {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
            scope: user.scope.clone(),
        },
        client: client.to_string(),
    }
}
