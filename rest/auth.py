"""Who is calling: `noauth` (trusted headers on loopback), `token` (a tokens file) and `keystone`
(the headers Keystone's auth_token middleware sets in front of the service)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Protocol

from sdnapp.config import AuthConfig, ConfigError, read_yaml
from sdnapp.model import Caller
from sdnapp.validate import PROJECT_RE

from .faults import Unauthorized

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class Authenticator(Protocol):
    def caller(self, headers: Mapping[str, str]) -> Caller: ...


def _roles(value: str) -> set[str]:
    return {r.strip().lower() for r in value.split(",") if r.strip()}


class NoAuth:
    """The project is the X-Project-Id header; admin when X-Roles names admin."""

    @classmethod
    def from_config(cls, config: AuthConfig) -> NoAuth:
        return cls()

    def caller(self, headers: Mapping[str, str]) -> Caller:
        project = _project(headers.get("X-Project-Id"), "X-Project-Id")
        return Caller(project, "admin" in _roles(headers.get("X-Roles", "")))


class NeutronNoAuth(NoAuth):
    """noauth on the Neutron face: as NoAuth, but a request without X-Project-Id acts as an administrator of
    the configured default project, as Neutron's noauth does, so that `openstack --os-auth-type none` (which
    sends `X-Auth-Token: notused` and no project) and Nova (a user's token, no project) work on loopback."""

    def __init__(self, default_project: str) -> None:
        self.default_project = default_project

    def caller(self, headers: Mapping[str, str]) -> Caller:
        if not headers.get("X-Project-Id"):
            return Caller(self.default_project, True)
        return super().caller(headers)


def _project(project: str | None, header: str) -> str:
    if not project:
        raise Unauthorized(f"{header} header is required")
    if not PROJECT_RE.match(project):
        raise Unauthorized(f"{header} must be 1 to 64 letters, digits, '_', '.' or '-'")
    return project


class TokenAuth:
    """X-Auth-Token must be one of the tokens file's, stored there as SHA-256 hex digests."""

    def __init__(self, tokens: dict[str, Caller]) -> None:
        self._tokens = tokens

    @classmethod
    def from_config(cls, config: AuthConfig) -> TokenAuth:
        if config.tokens_file is None:
            raise ConfigError("auth.tokens_file: required with auth.strategy token")
        return cls.from_file(config.tokens_file)

    @classmethod
    def from_file(cls, path: str) -> TokenAuth:
        raw = read_yaml(path, "auth.tokens_file")
        if not isinstance(raw, dict) or set(raw) != {"tokens"} or not isinstance(raw["tokens"], list):
            raise ConfigError(f"auth.tokens_file: {path} must hold one key, tokens: a list")
        tokens: dict[str, Caller] = {}
        for i, t in enumerate(raw["tokens"]):
            where = f"auth.tokens_file: tokens[{i}]"
            if not isinstance(t, dict) or not set(t) <= {"sha256", "project_id", "roles"}:
                raise ConfigError(f"{where}: must be a mapping of sha256, project_id and roles")
            digest, project, roles = t.get("sha256"), t.get("project_id"), t.get("roles", [])
            if not isinstance(digest, str) or not _SHA256_RE.match(digest):
                raise ConfigError(f"{where}.sha256: must be 64 lower-case hex digits")
            if not isinstance(project, str) or not PROJECT_RE.match(project):
                raise ConfigError(f"{where}.project_id: must be 1 to 64 letters, digits, '_', '.' or '-'")
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ConfigError(f"{where}.roles: must be a list of strings")
            if digest in tokens:
                raise ConfigError(f"{where}.sha256: duplicate token")
            tokens[digest] = Caller(project, "admin" in {r.lower() for r in roles})
        return cls(tokens)

    def caller(self, headers: Mapping[str, str]) -> Caller:
        token = headers.get("X-Auth-Token")
        if not token:
            raise Unauthorized("X-Auth-Token header is required")
        found = self._tokens.get(hashlib.sha256(token.encode("utf-8", "replace")).hexdigest())
        if found is None:
            raise Unauthorized("the token is not valid")
        return found


class KeystoneAuth:
    """Behind Keystone's auth_token middleware: its X-Project-Id and X-Roles, only when it confirmed the token.

    The middleware removes these headers from what the client sent and sets them from the validated
    token; with `delay_auth_decision` it passes a request with a missing or bad token on with
    X-Identity-Status: Invalid, so anything but exactly "Confirmed" is refused. A token scoped to a
    domain or to nothing is confirmed without a project: refused too, since every call acts for one.
    """

    @classmethod
    def from_config(cls, config: AuthConfig) -> KeystoneAuth:
        return cls()

    def caller(self, headers: Mapping[str, str]) -> Caller:
        if headers.get("X-Identity-Status") != "Confirmed":
            raise Unauthorized("the request carries no confirmed Keystone identity (X-Identity-Status)")
        project = _project(headers.get("X-Project-Id"), "X-Project-Id")
        return Caller(project, "admin" in _roles(headers.get("X-Roles", "")))


class _Strategy(Protocol):
    """An authenticator class: made from the auth section (a tokens file is read now)."""

    def from_config(self, config: AuthConfig) -> Authenticator: ...


AUTHENTICATORS: dict[str, _Strategy] = {"noauth": NoAuth, "token": TokenAuth, "keystone": KeystoneAuth}


def authenticator_for(config: AuthConfig) -> Authenticator:
    """The authenticator of the configured `auth.strategy` (one of sdnapp.config.AUTH_STRATEGIES)."""
    strategy = AUTHENTICATORS.get(config.strategy)
    if strategy is None:
        raise ConfigError(f"auth.strategy: unknown strategy {config.strategy!r}")
    return strategy.from_config(config)


def face_authenticators(config: AuthConfig, neutron_prefix: str) -> dict[str, Authenticator]:
    """Faces whose authentication differs from v1's under the configured strategy: Neutron's noauth."""
    if config.strategy == "noauth":
        return {neutron_prefix: NeutronNoAuth(config.noauth_project)}
    return {}
