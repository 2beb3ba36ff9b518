"""Databricks-style error bodies: ``{"error_code": "...", "message": "..."}``."""

from __future__ import annotations

from starlette.responses import JSONResponse


def api_error(status: int, error_code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error_code": error_code, "message": message}, status_code=status, headers=headers)


def not_found(what: str) -> JSONResponse:
    return api_error(404, "RESOURCE_DOES_NOT_EXIST", f"{what} does not exist.")


def bad_request(message: str) -> JSONResponse:
    return api_error(400, "BAD_REQUEST", message)
