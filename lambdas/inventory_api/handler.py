"""inventory_api: the dashboard's HTTP API: GET /summary (the summary table), GET /items (a page
of the inventory table or its index `by_level`), GET /items/{store}/{item}/history (the history
table).

API Gateway's Cognito JWT authorizer has checked the token's signature, issuer, audience and
expiry before this runs; the handler also insists on an access token (see `_signed_in`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory import settings
from inventory.adapters.clients import client
from inventory.adapters.reader import StockReader
from inventory.dashboard import (
    BadRequest,
    history_document,
    items_document,
    listing_total,
    parse_history_query,
    parse_item_query,
    summary_document,
)

logger = Logger(service="inventory")
# X-Ray: the handler, and every AWS call the adapters make, as Tracer patches botocore. Not
# the handler's answer (capture_response=False): it is the data, and can outgrow a segment.
tracer = Tracer(service="inventory")

_HEADERS = {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


@cache
def stock_reader() -> StockReader:
    return StockReader(
        client("dynamodb"),
        settings.table_name(),
        settings.summary_table(),
        settings.history_table(),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one HTTP API request (payload format 2.0)."""
    route = event.get("routeKey", "")
    if not _signed_in(event):
        logger.warning("refused a token that is not an access token", extra={"route": route})
        return _response(401, {"message": "Unauthorized"})
    threshold = settings.low_stock_threshold()
    raw_query = event.get("rawQueryString", "")
    try:
        reader = stock_reader()
        if route == "GET /items":
            query = parse_item_query(raw_query)
            stores = reader.summary()
            page = reader.items_page(query, [store.store for store in stores])
            total = listing_total(query, stores)
            body = items_document(page, threshold, total)
        elif route == "GET /summary":
            body = summary_document(reader.summary(), threshold)
        elif route == "GET /items/{store}/{item}/history":
            path = event.get("pathParameters") or {}
            history = parse_history_query(path.get("store", ""), path.get("item", ""), raw_query)
            current = reader.item(history.store, history.item)
            body = history_document(history, current, reader.history(history), threshold)
        else:
            return _response(404, {"message": "Not Found"})
    except BadRequest as error:
        return _response(400, {"message": str(error)})
    except Exception:  # the caller learns nothing of the internals; the log has them
        logger.exception("request failed", extra={"route": route})
        return _response(500, {"message": "Internal Server Error"})
    logger.info("answered", extra={"route": route, "user": _claims(event).get("username")})
    return _response(200, body)


def _claims(event: dict[str, Any]) -> dict[str, Any]:
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
    return claims if isinstance(claims, dict) else {}


def _signed_in(event: dict[str, Any]) -> bool:
    """True for a Cognito access token, as the authorizer passed its verified claims on.

    The authorizer accepts any token of the pool whose `aud` or `client_id` is the app client:
    ID tokens too, and on MiniStack also refresh tokens (signed JWTs there, opaque on AWS).
    The page sends access tokens, so anything else is refused.
    """
    return _claims(event).get("token_use") == "access"


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": _HEADERS,
        "body": json.dumps(body, ensure_ascii=False),
    }
