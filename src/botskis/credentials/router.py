from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from botskis.api.dependencies import SessionDep, SettingsDep
from botskis.core.auth import CurrentUser
from botskis.core.pagination import Page, PageDep
from botskis.credentials import schemas, service
from botskis.credentials.kinds import CREDENTIAL_KINDS
from botskis.credentials.models import Credential
from botskis.credentials.vault import Vault

router = APIRouter(prefix="/credentials", tags=["credentials"])


def get_vault(settings: SettingsDep) -> Vault:
    return Vault.from_settings(settings)


VaultDep = Annotated[Vault, Depends(get_vault)]


@router.get("/kinds", response_model=list[schemas.CredentialKind])
async def list_kinds(_user: CurrentUser) -> list[schemas.CredentialKind]:
    return [
        schemas.CredentialKind(
            name=kind.name,
            description=kind.description,
            required=list(kind.required),
            optional=list(kind.optional),
        )
        for kind in CREDENTIAL_KINDS.values()
    ]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=schemas.Credential)
async def create_credential(
    body: schemas.CredentialCreate, user: CurrentUser, session: SessionDep, vault: VaultDep
) -> Credential:
    return await service.create_credential(
        session, vault, user.id, kind=body.kind, name=body.name, secret=body.secret
    )


@router.get("", response_model=Page[schemas.Credential])
async def list_credentials(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[schemas.Credential]:
    rows, total = await service.list_credentials(session, user.id, kind=kind, page=page)
    return Page[schemas.Credential](
        items=[schemas.Credential.model_validate(c) for c in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{credential_id}", response_model=schemas.Credential)
async def read_credential(
    credential_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Credential:
    return await service.get_owned_credential(session, user.id, credential_id)


@router.patch("/{credential_id}", response_model=schemas.Credential)
async def update_credential(
    credential_id: uuid.UUID,
    body: schemas.CredentialUpdate,
    user: CurrentUser,
    session: SessionDep,
    vault: VaultDep,
) -> Credential:
    return await service.update_credential(
        session, vault, user.id, credential_id, name=body.name, secret=body.secret
    )


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(
    credential_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> Response:
    await service.delete_credential(session, user.id, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
