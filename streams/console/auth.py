"""Sign-in and sessions: a token from configuration (one, or one per account in the users file), exchanged on the
sign-in page for a session cookie (HttpOnly, SameSite=Strict), or sent as `Authorization: Bearer` by a script.

Every form carries the session's CSRF token. With no accounts configured (loopback only) every browser gets an
anonymous session, still with its CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from streams.console.settings import ANONYMOUS, Accounts, User

COOKIE = "postsale_console"
SESSION_SECONDS = 12 * 3600
SESSIONS_MAX = 10_000


@dataclass
class Session:
    user: User
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = field(default_factory=lambda: time.monotonic() + SESSION_SECONDS)


class Sessions:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def new(self, user: User) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(user)
        self._by_id[sid] = session
        while len(self._by_id) > SESSIONS_MAX:
            self._by_id.popitem(last=False)
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None:
            return None
        if session.expires < time.monotonic():
            self._by_id.pop(sid, None)
            return None
        return session

    def end(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    def sign_in(self, token: str) -> User | None:
        return self.accounts.find(token) if token else None

    def bearer(self, header: str) -> User | None:
        if not header.startswith("Bearer "):
            return None
        return self.accounts.find(header.removeprefix("Bearer ").strip())

    def anonymous(self) -> User | None:
        return ANONYMOUS if self.accounts.open else None


def csrf_ok(session: Session | None, given: str) -> bool:
    return session is not None and hmac.compare_digest(session.csrf.encode(), given.encode())
