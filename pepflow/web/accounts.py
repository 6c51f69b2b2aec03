"""Web accounts and saved drafts, in tables the web module owns (``web_users``,
``web_drafts``) next to the records store, created by this module's own metadata.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106 low-memory
profile). A sign-in fails the same way, and takes the same time, for an unknown user,
a wrong password, a locked and a disabled account (every path verifies one hash);
after ``max_failed`` failures in a row an account is locked for ``lockout`` minutes.

Passwords follow the NCSC's guidance: a minimum length and a deny-list of common
and guessable passwords (zxcvbn's lists and patterns: dictionary words with digits,
keyboard runs, repeats), no composition rules. An administrator can disable and
re-enable an account, end all its sessions, and issue a one-time password-reset code
(``web_password_resets``: only its hash is kept; it expires, and works once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pepflow.store.unit_of_work import create_store_engine

metadata = sa.MetaData()

users = sa.Table(
    "web_users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(200), nullable=False, unique=True),
    sa.Column("staff_id", sa.String(64), nullable=True, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=True),  # null: single sign-on only
    # roles on top of the staff record's (bootstrap administrator before staff are imported)
    sa.Column("extra_roles", sa.Text, nullable=False, default="[]"),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("session_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
)

drafts = sa.Table(
    "web_drafts", metadata,
    sa.Column("user_task_key", sa.BigInteger, primary_key=True),
    sa.Column("staff_id", sa.String(64), primary_key=True),
    sa.Column("variables", sa.Text, nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)

resets = sa.Table(
    "web_password_resets", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by", sa.String(200), nullable=False),
)

_hasher = PasswordHasher()
# verified against when the username is unknown, so timing does not tell
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

MIN_PASSWORD = 12
MAX_PASSWORD = 1000
MAX_DRAFT_BYTES = 64 * 1024  # a form's values; a draft is never a file store
RESET_TTL = timedelta(hours=24)


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why a new password is refused (None: it is fine). Length, then a deny-list."""
    if len(password) < MIN_PASSWORD:
        return f"passwords need at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"passwords can have at most {MAX_PASSWORD} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    if username and len(username) >= 3 and username.lower() in password.lower():
        return "a password cannot contain the username"
    from zxcvbn import zxcvbn

    if zxcvbn(password[:100], user_inputs=[username or ""])["score"] < 3:
        return ("this password is too common or easy to guess (a dictionary word, a keyboard run, a "
                "repeat, a name with digits): choose a longer passphrase, e.g. three random words")
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    staff_id: str | None
    extra_roles: tuple[str, ...]
    active: bool
    failed_attempts: int
    locked_until: datetime | None
    session_version: int
    has_password: bool
    last_sign_in_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _account(row: Any) -> Account:
    return Account(
        row.id, row.username, row.staff_id, tuple(json.loads(row.extra_roles or "[]")), bool(row.active),
        row.failed_attempts, _aware(row.locked_until), row.session_version, row.password_hash is not None,
        _aware(row.last_sign_in_at),
    )


def _busy_timeout(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Accounts:
    def __init__(self, database_url: str, clock, *, max_failed: int = 5, lockout_minutes: int = 15) -> None:
        self.engine = create_store_engine(database_url)  # the store's SQLite set-up
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _busy_timeout)
        self.clock = clock
        self.max_failed = max_failed
        self.lockout = timedelta(minutes=lockout_minutes)
        metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- accounts
    def add(self, username: str, *, password: str | None, staff_id: str | None = None,
            extra_roles: tuple[str, ...] = ()) -> Account:
        username = username.strip().lower()
        if not username:
            raise AccountError("a username is needed")
        if password is not None:
            problem = password_problem(password, username)
            if problem:
                raise AccountError(problem)
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(users.c.id).where(
                sa.or_(users.c.username == username, sa.and_(users.c.staff_id.is_not(None), users.c.staff_id == staff_id))
            )).first()
            if exists:
                raise AccountError(f"an account for {username!r} or staff {staff_id!r} already exists")
            key = conn.execute(users.insert().values(
                username=username, staff_id=staff_id,
                password_hash=_hasher.hash(password) if password else None,
                extra_roles=json.dumps(sorted(extra_roles)), active=True, failed_attempts=0,
                session_version=1, created_at=self.clock.now(),
            )).inserted_primary_key[0]
        return self.get(key)

    def get(self, user_id: int) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return _account(row) if row else None

    def by_username(self, username: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username.strip().lower())).first()
        return _account(row) if row else None

    def all(self) -> list[Account]:
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]

    def set_password(self, user_id: int, password: str) -> None:
        account = self.get(user_id)
        if account is None:
            raise AccountError("no such account")
        problem = password_problem(password, account.username)
        if problem:
            raise AccountError(problem)
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(
                password_hash=_hasher.hash(password), session_version=users.c.session_version + 1,
                failed_attempts=0, locked_until=None))

    # ----------------------------------------------------------- password reset
    def issue_reset(self, user_id: int, *, created_by: str, ttl: timedelta = RESET_TTL) -> str:
        """A one-time reset code for the account (earlier unused codes stop working).
        Only its hash is stored; give the code to the person by a separate channel."""
        if self.get(user_id) is None:
            raise AccountError("no such account")
        token = secrets.token_urlsafe(24)
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(resets.update().where(resets.c.user_id == user_id, resets.c.used_at.is_(None))
                         .values(used_at=now))
            conn.execute(resets.insert().values(token_hash=_token_hash(token), user_id=user_id, created_at=now,
                                                expires_at=now + ttl, used_at=None, created_by=created_by[:200]))
        return token

    def redeem_reset(self, token: str, new_password: str) -> Account:
        """Set a new password with a reset code: once, before it expires. The account is
        unlocked and every earlier session ends."""
        now = self.clock.now()
        digest = _token_hash(token or "")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(resets).where(resets.c.token_hash == digest)).first()
            if row is None or not hmac.compare_digest(row.token_hash, digest) or row.used_at is not None \
                    or _aware(row.expires_at) <= now:
                raise AccountError("this reset code is not valid (wrong, used or expired): ask an administrator for a new one")
            account = self.get(row.user_id)
            if account is None or not account.active:
                raise AccountError("this account is disabled: ask an administrator")
            problem = password_problem(new_password, account.username)
            if problem:
                raise AccountError(problem)
            conn.execute(resets.update().where(resets.c.token_hash == digest).values(used_at=now))
            conn.execute(users.update().where(users.c.id == row.user_id).values(
                password_hash=_hasher.hash(new_password), session_version=users.c.session_version + 1,
                failed_attempts=0, locked_until=None))
        return self.get(row.user_id)

    def set_active(self, user_id: int, active: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(
                active=active, session_version=users.c.session_version + 1))

    def unlock(self, user_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(failed_attempts=0, locked_until=None))

    def end_sessions(self, user_id: int) -> None:
        """Sign-out: every cookie issued before now stops working."""
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(session_version=users.c.session_version + 1))

    def authenticate(self, username: str, password: str) -> tuple[Account | None, str]:
        """(account, "ok") or (None, reason); reason is for the audit log only."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username.strip().lower())).first()
            if row is None or row.password_hash is None:
                try:
                    _hasher.verify(_DUMMY_HASH, password or "-")
                except VerificationError:
                    pass
                return None, "unknown-user" if row is None else "no-password"
            locked_until = _aware(row.locked_until)
            if locked_until is not None and locked_until > now:
                try:  # the same work as any other attempt: timing does not tell it is locked
                    _hasher.verify(row.password_hash, password or "-")
                except (VerificationError, InvalidHashError):
                    pass
                return None, "locked"
            try:
                _hasher.verify(row.password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                failed = row.failed_attempts + 1
                values: dict[str, Any] = {"failed_attempts": failed}
                if failed >= self.max_failed:
                    values.update(locked_until=now + self.lockout, failed_attempts=0)
                conn.execute(users.update().where(users.c.id == row.id).values(**values))
                return None, "locked-now" if failed >= self.max_failed else "wrong-password"
            if not row.active:
                return None, "inactive"
            values = {"failed_attempts": 0, "locked_until": None, "last_sign_in_at": now}
            if _hasher.check_needs_rehash(row.password_hash):
                values["password_hash"] = _hasher.hash(password)
            conn.execute(users.update().where(users.c.id == row.id).values(**values))
        return self.get(row.id), "ok"

    # ------------------------------------------------------------------ drafts
    def save_draft(self, user_task_key: int, staff_id: str, variables: dict[str, Any]) -> datetime:
        now = self.clock.now()
        payload = json.dumps(variables, default=str)
        if len(payload.encode()) > MAX_DRAFT_BYTES:
            raise AccountError(f"a draft can hold at most {MAX_DRAFT_BYTES // 1024} KB of form values")
        with self.engine.begin() as conn:
            updated = conn.execute(drafts.update().where(
                drafts.c.user_task_key == user_task_key, drafts.c.staff_id == staff_id,
            ).values(variables=payload, saved_at=now)).rowcount
            if not updated:
                conn.execute(drafts.insert().values(
                    user_task_key=user_task_key, staff_id=staff_id, variables=payload, saved_at=now))
        return now

    def draft(self, user_task_key: int, staff_id: str) -> tuple[dict[str, Any], datetime] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(drafts).where(
                drafts.c.user_task_key == user_task_key, drafts.c.staff_id == staff_id)).first()
        return (json.loads(row.variables), _aware(row.saved_at)) if row else None

    def delete_drafts(self, user_task_key: int, staff_id: str | None = None) -> None:
        query = drafts.delete().where(drafts.c.user_task_key == user_task_key)
        if staff_id is not None:
            query = query.where(drafts.c.staff_id == staff_id)
        with self.engine.begin() as conn:
            conn.execute(query)
