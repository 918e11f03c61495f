"""Invite links for the built-in crowd: an admin shares a link to a project, a new person signs
up through it and becomes an annotator of that project (a ``ProjectMember`` row); a signed-in
annotator following a link joins one more project.

Tokens are stateless, signed with ``TimestampSigner`` under a dedicated salt: they carry the
project and their own lifetime, so a tampered or expired link is refused without a table. What
that cannot do: a per-link use limit or revoking one link early. Both need a model (an
``InviteLink`` row with a hashed token, ``max_uses``/``uses`` taken under ``select_for_update``
and ``revoked_at``); until then, rotating ``SECRET_KEY`` (or the salt) revokes every link.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.utils import timezone

from .models import Project
from .roles import annotator_group_add, is_annotator, project_member_add

INVITE_SALT = "synsetlab.labeling.invite.v1"
DEFAULT_INVITE_DAYS = 14
MAX_INVITE_DAYS = 90


class InviteError(Exception):
    code = "invalid"


class InviteInvalid(InviteError):
    """Tampered, malformed, or for a project that no longer exists or is inactive."""


class InviteExpired(InviteError):
    code = "expired"


@dataclass(frozen=True)
class Invite:
    project: Project
    expires_at: datetime


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=INVITE_SALT)


def invite_create(*, project: Project, days: int = DEFAULT_INVITE_DAYS) -> str:
    """A signed invite token for ``project`` valid for ``days`` days (1 to MAX_INVITE_DAYS).

    Call only for users allowed to edit the project (see ``project_can_edit``).
    """
    if not 1 <= days <= MAX_INVITE_DAYS:
        raise ValueError(f"an invite lasts 1 to {MAX_INVITE_DAYS} days")
    payload = {
        "p": project.pk,
        "a": int(timedelta(days=days).total_seconds()),
        # A nonce so that two links for the same project differ (and can be told apart in logs).
        "n": secrets.token_urlsafe(6),
    }
    return _signer().sign_object(payload, compress=True)


def invite_resolve(*, token: str) -> Invite:
    """The invite a token stands for; raises InviteInvalid or InviteExpired."""
    signer = _signer()
    try:
        # First the signature alone, to learn the lifetime the token was made with...
        payload = signer.unsign_object(token)
        max_age = int(payload["a"])
        project_id = int(payload["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InviteInvalid("this invite link is not valid") from None
    # ...then the signature with that lifetime (the lifetime cannot be altered: it is signed).
    try:
        signer.unsign_object(token, max_age=max_age)
    except signing.SignatureExpired:
        raise InviteExpired("this invite link has expired") from None
    except signing.BadSignature:
        raise InviteInvalid("this invite link is not valid") from None
    project = Project.objects.filter(pk=project_id, active=True).first()
    if project is None:
        raise InviteInvalid("this invite's project is closed")
    return Invite(project=project, expires_at=_issued_at(token) + timedelta(seconds=max_age))


def _issued_at(token: str) -> datetime:
    """TimestampSigner's layout is ``value:timestamp:signature`` (timestamp in base 62)."""
    timestamp = signing.b62_decode(token.rsplit(":", 2)[-2])
    return datetime.fromtimestamp(timestamp, tz=timezone.get_current_timezone())


@transaction.atomic
def invite_redeem(*, token: str, username: str, password: str) -> tuple[AbstractBaseUser, Project]:
    """Create an annotator account through an invite and return it with the project.

    The caller validates ``username`` and ``password`` (uniqueness, Django's password
    validators: ``InviteSignupForm``); the token is checked again here, at the moment of use.
    """
    invite = invite_resolve(token=token)
    user = get_user_model().objects.create_user(username=username, password=password)
    annotator_group_add(user)
    project_member_add(project=invite.project, user=user, source="invite")
    return user, invite.project


@transaction.atomic
def invite_join(*, token: str, user: AbstractBaseUser) -> Project:
    """A signed-in annotator follows an invite link to one more project: membership is recorded.
    Only built-in annotators may join (a panel or MTurk account never becomes one)."""
    invite = invite_resolve(token=token)
    if not is_annotator(user):
        raise InviteInvalid("only annotator accounts can join a project through an invite")
    project_member_add(project=invite.project, user=user, source="invite")
    return invite.project
