//! Who may do what where: roles, scopes (a subtree of the organisation tree) and the password
//! rule. The app layer asks these questions for every operation, from the UI and the API alike.

use std::fmt;

use crate::codes::{DivisionCode, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, anywhere.
    ProvinceAdmin,
    /// City, county and street staff: read in scope, review the units below, manage users below.
    Officer,
    /// Keeps the records of one community.
    CommunityWorker,
    /// Reads in scope and enters on-site assessments.
    Evaluator,
    /// Reads in scope.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::ProvinceAdmin,
        Role::Officer,
        Role::CommunityWorker,
        Role::Evaluator,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ProvinceAdmin => "province_admin",
            Role::Officer => "officer",
            Role::CommunityWorker => "community_worker",
            Role::Evaluator => "evaluator",
            Role::Viewer => "viewer",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::ProvinceAdmin => "省级管理员",
            Role::Officer => "民政工作人员",
            Role::CommunityWorker => "社区工作者",
            Role::Evaluator => "考评人员",
            Role::Viewer => "查看人员",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is acting: a signed-in user, or the operator at the command line (full authority).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User {
        id: i64,
        username: String,
        role: Role,
        scope: DivisionCode,
    },
    /// `cli:<operating-system user>` in the audit log.
    Operator { os_user: String },
}

impl Actor {
    /// The name written in the audit log.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::User { username, .. } => username.clone(),
            Actor::Operator { os_user } => format!("cli:{os_user}"),
        }
    }

    pub fn audit_role(&self) -> &'static str {
        match self {
            Actor::User { role, .. } => role.as_str(),
            Actor::Operator { .. } => "operator",
        }
    }
}

/// Whether a scope unit covers a unit, given the unit's path (its ancestors, root first,
/// then the unit itself).
pub fn covers(scope: &DivisionCode, unit_path: &[DivisionCode]) -> bool {
    unit_path.iter().any(|c| c == scope)
}

/// May the actor read records of the unit with this path?
pub fn may_read(actor: &Actor, unit_path: &[DivisionCode]) -> bool {
    match actor {
        Actor::Operator { .. } => true,
        Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => true,
        Actor::User { scope, .. } => covers(scope, unit_path),
    }
}

/// May the actor add, change or delete the records of the community with this path? The
/// community's own workers keep them; the province (and the operator) may correct them. Officers,
/// evaluators and viewers read them but do not write them, so that what is reviewed is what the
/// community itself recorded.
pub fn may_write_records(actor: &Actor, unit_path: &[DivisionCode]) -> bool {
    match actor {
        Actor::Operator { .. }
        | Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => true,
        Actor::User {
            role: Role::CommunityWorker,
            scope,
            ..
        } => unit_path.last() == Some(scope),
        Actor::User { .. } => false,
    }
}

/// May the actor open and close a community's surveys, issue and void its ballot codes and enter
/// its paper tallies? Its own workers, and officers whose scope covers it (the street usually
/// runs the evaluation); the province and the operator everywhere.
pub fn may_run_surveys(actor: &Actor, unit_path: &[DivisionCode]) -> bool {
    match actor {
        Actor::User {
            role: Role::Officer,
            scope,
            ..
        } => covers(scope, unit_path),
        _ => may_write_records(actor, unit_path),
    }
}

/// May the actor enter on-site assessments and override automatic results for the community
/// with this path? Evaluators and officers in scope, and the province.
pub fn may_assess(actor: &Actor, unit_path: &[DivisionCode]) -> bool {
    match actor {
        Actor::Operator { .. }
        | Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => true,
        Actor::User {
            role: Role::Officer | Role::Evaluator,
            scope,
            ..
        } => covers(scope, unit_path) && unit_path.last() != Some(scope),
        Actor::User { .. } => false,
    }
}

/// May the actor set when the month reports of the communities below the unit with this path
/// are due? Officers for their own unit and those below it; the province everywhere. (Whether
/// the unit is above the communities is the caller's check.)
pub fn may_set_deadlines(actor: &Actor, unit_path: &[DivisionCode]) -> bool {
    match actor {
        Actor::Operator { .. }
        | Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => true,
        Actor::User {
            role: Role::Officer,
            scope,
            ..
        } => covers(scope, unit_path),
        Actor::User { .. } => false,
    }
}

/// The level at which a user takes review steps for the community with this path: its own
/// workers submit; an officer reviews at the level of its scope unit; a province admin at the
/// province. None for everyone else (and for the operator, who acts at whichever step is due).
pub fn review_level(actor: &Actor, unit_path: &[DivisionCode]) -> Option<Level> {
    match actor {
        Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => Some(Level::Province),
        Actor::User {
            role: Role::CommunityWorker,
            scope,
            ..
        } => (unit_path.last() == Some(scope)).then_some(Level::Committee),
        Actor::User {
            role: Role::Officer,
            scope,
            ..
        } => (covers(scope, unit_path) && unit_path.last() != Some(scope)).then(|| scope.level()),
        _ => None,
    }
}

/// May the actor create or manage a user with this role whose scope unit has this path?
///
/// A province admin may manage anyone. An officer may manage, inside its scope, officers for
/// units strictly below its own scope unit and users of the three roles below officer.
pub fn may_manage_user(
    actor: &Actor,
    role: Role,
    scope_path: &[DivisionCode],
) -> Result<(), String> {
    let Some(target_scope) = scope_path.last() else {
        return Err("用户的所属单位不能为空".into());
    };
    match actor {
        Actor::Operator { .. }
        | Actor::User {
            role: Role::ProvinceAdmin,
            ..
        } => Ok(()),
        Actor::User {
            role: Role::Officer,
            scope,
            ..
        } => {
            if !covers(scope, scope_path) {
                return Err(format!("单位 {target_scope} 不在您的管辖范围内"));
            }
            match role {
                Role::ProvinceAdmin => Err("不能创建或管理省级管理员".into()),
                Role::Officer if target_scope == scope => {
                    Err("只能创建或管理下级单位的民政工作人员".into())
                }
                _ => Ok(()),
            }
        }
        Actor::User { .. } => Err("您没有管理用户的权限".into()),
    }
}

/// Checks the role and scope unit go together: a community worker works in one community.
pub fn check_role_scope(
    role: Role,
    scope: &DivisionCode,
    scope_is_community: bool,
) -> Result<(), String> {
    match role {
        Role::ProvinceAdmin if scope.level() != Level::Province => {
            Err(format!("省级管理员的所属单位必须是省级单位，{scope} 不是"))
        }
        Role::CommunityWorker if scope.level() != Level::Committee || !scope_is_community => Err(
            format!("社区工作者的所属单位必须是一个社区（居委会或类似居委会的单位），{scope} 不是"),
        ),
        _ => Ok(()),
    }
}

/// Common passwords refused whatever their length.
const COMMON_PASSWORDS: &[&str] = &[
    "password123",
    "password1234",
    "qwerty123456",
    "1234567890a",
    "a1234567890",
    "abc1234567",
    "abcd123456",
    "abcdef123456",
    "admin12345",
    "admin123456",
    "iloveyou123",
    "qwertyuiop1",
    "1qaz2wsx3edc",
    "zaq12wsx",
    "woaini1314520",
    "aa123456789",
    "shequ12345",
    "password12",
    "password1",
    "qwerty1234",
    "qwerty12345",
    "iloveyou12",
    "1234qwer",
    "1q2w3e4r5t",
    "a123456789",
    "abc123456789",
];

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// At least 10 characters with letters and digits, and none of a short list of common ones.
pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(format!("密码至少 {MIN_PASSWORD_CHARS} 个字符"));
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(format!("密码最多 {MAX_PASSWORD_CHARS} 个字符"));
    }
    if password.chars().any(crate::text::is_hidden) {
        return Err("密码不能含有控制字符或不可见字符".into());
    }
    let letters = password.chars().any(char::is_alphabetic);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if !(letters && digits) {
        return Err("密码必须同时包含字母和数字".into());
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err("该密码过于常见，请换一个".into());
    }
    Ok(())
}

/// Usernames (stored lower-case): 3 to 32 characters of ASCII letters, digits, '.', '_' and '-'.
pub fn check_username(username: &str) -> Result<(), String> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let len = username.chars().count();
    if !(3..=32).contains(&len) || !ok_chars {
        return Err("用户名须为 3 至 32 个字符，只能含英文字母、数字、“.”“_”“-”".into());
    }
    if username.starts_with("cli:") {
        return Err("用户名不能以 cli: 开头".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> DivisionCode {
        DivisionCode::parse(s).unwrap()
    }

    fn path(codes: &[&str]) -> Vec<DivisionCode> {
        codes.iter().map(|c| code(c)).collect()
    }

    fn user(role: Role, scope: &str) -> Actor {
        Actor::User {
            id: 1,
            username: "u".into(),
            role,
            scope: code(scope),
        }
    }

    const COMMUNITY: [&str; 5] = ["23", "2301", "230102", "230102001", "230102001001"];

    #[test]
    fn deadlines_are_set_by_officers_for_their_units() {
        let county = path(&["23", "2301", "230102"]);
        assert!(may_set_deadlines(&user(Role::Officer, "230102"), &county));
        assert!(may_set_deadlines(&user(Role::Officer, "2301"), &county));
        assert!(!may_set_deadlines(&user(Role::Officer, "230103"), &county));
        assert!(!may_set_deadlines(
            &user(Role::Officer, "230102001"),
            &county
        ));
        assert!(!may_set_deadlines(&user(Role::Viewer, "23"), &county));
        assert!(!may_set_deadlines(
            &user(Role::Evaluator, "230102"),
            &county
        ));
        assert!(!may_set_deadlines(
            &user(Role::CommunityWorker, "230102"),
            &county
        ));
        assert!(may_set_deadlines(&user(Role::ProvinceAdmin, "23"), &county));
    }

    #[test]
    fn reading_follows_the_scope() {
        assert!(may_read(&user(Role::Viewer, "230102"), &path(&COMMUNITY)));
        let own = path(&COMMUNITY);
        let worker = user(Role::CommunityWorker, own.last().unwrap().as_str());
        assert!(may_write_records(&worker, &own));
        let mut neighbour = own.clone();
        neighbour.pop();
        neighbour.push(DivisionCode::parse("230102001999").unwrap());
        assert!(!may_write_records(&worker, &neighbour));
        assert!(!may_write_records(&user(Role::Officer, "230102"), &own));
        assert!(!may_write_records(&user(Role::Viewer, "23"), &own));
        assert!(may_write_records(&user(Role::ProvinceAdmin, "23"), &own));
        assert!(!may_read(&user(Role::Viewer, "230103"), &path(&COMMUNITY)));
        assert!(may_read(&user(Role::ProvinceAdmin, "23"), &path(&["44"])));
        assert!(may_read(
            &Actor::Operator {
                os_user: "root".into()
            },
            &path(&["44"])
        ));
        assert!(!may_read(
            &user(Role::CommunityWorker, "230102001001"),
            &path(&["23", "2301"])
        ));
    }

    #[test]
    fn officers_manage_below_themselves_only() {
        let county = user(Role::Officer, "230102");
        assert!(may_manage_user(&county, Role::Officer, &path(&COMMUNITY[..4])).is_ok());
        assert!(may_manage_user(&county, Role::Officer, &path(&COMMUNITY[..3])).is_err());
        assert!(may_manage_user(&county, Role::CommunityWorker, &path(&COMMUNITY)).is_ok());
        assert!(may_manage_user(&county, Role::Viewer, &path(&COMMUNITY[..3])).is_ok());
        assert!(may_manage_user(&county, Role::ProvinceAdmin, &path(&COMMUNITY)).is_err());
        assert!(may_manage_user(&county, Role::Viewer, &path(&["23", "2301", "230103"])).is_err());
        assert!(
            may_manage_user(&user(Role::Viewer, "23"), Role::Viewer, &path(&COMMUNITY)).is_err()
        );
        assert!(
            may_manage_user(
                &user(Role::CommunityWorker, "230102001001"),
                Role::Viewer,
                &path(&COMMUNITY)
            )
            .is_err()
        );
    }

    #[test]
    fn community_workers_work_in_a_community() {
        assert!(check_role_scope(Role::CommunityWorker, &code("230102001001"), true).is_ok());
        assert!(check_role_scope(Role::CommunityWorker, &code("230102001201"), false).is_err());
        assert!(check_role_scope(Role::CommunityWorker, &code("230102"), false).is_err());
        assert!(check_role_scope(Role::Viewer, &code("230102"), false).is_ok());
    }

    #[test]
    fn the_password_rule() {
        assert!(check_password("shequ2010hlj").is_ok());
        assert!(check_password("短1a").is_err());
        assert!(check_password("onlyletterslong").is_err());
        assert!(check_password("12345678901").is_err());
        assert!(check_password("Password123").is_err());
        assert!(check_password("abc\u{1b}1234567").is_err());
        assert!(check_password(&"a1".repeat(70)).is_err());
    }

    #[test]
    fn usernames() {
        assert!(check_username("zhang.san").is_ok());
        assert!(check_username("ab").is_err());
        assert!(check_username("张三").is_err());
        assert!(check_username("a b c").is_err());
    }

    #[test]
    fn roles_parse() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
