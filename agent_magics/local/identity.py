"""Who the caller is (``GET /api/2.0/preview/scim/v2/Me``, i.e. ``w.current_user.me()``).

The PAT belongs to the local user; an OAuth M2M token to the service principal whose application
id is the client id.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_magics.local.auth import TokenRegistry, bearer_token
from agent_magics.local.catalog import stable_uuid
from agent_magics.transport.embedded_config import LOCAL_USER


def routes(tokens: TokenRegistry, client_id: str) -> list[Route]:
    async def me(request: Request) -> JSONResponse:
        if tokens.kind_of(bearer_token(request.scope)) == "oauth":
            name, display = client_id, "agent-magics local service principal"
        else:
            name, display = LOCAL_USER, "Local User"
        return JSONResponse(
            {
                "id": str(int(stable_uuid(f"user/{name}").replace("-", "")[:12], 16)),
                "userName": name,
                "displayName": display,
                "active": True,
                "emails": [{"value": LOCAL_USER, "primary": True}] if name == LOCAL_USER else [],
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            }
        )

    return [Route("/api/2.0/preview/scim/v2/Me", me, methods=["GET"])]
