"""`ledger serve` keeps an idle keep-alive connection open longer than a client's own expiry.

httpx and most clients keep an idle connection for 5 s, Uvicorn's default too: a server that
closes at the same moment races the client's next request on that connection, which is then
lost without an answer (the load suite saw POSTs lost that way on a busy machine).
"""

import http.client
import os
import time
from urllib.parse import urlsplit

import pytest

from tests.ops.helpers import live_app

IDLE_S = 6.5  # past the 5 s that both httpx and Uvicorn default to


def _status(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.mark.slow
def test_an_idle_connection_outlives_a_clients_expiry(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(LEDGER_ENV="test", LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'ka.db'}",
               LEDGER_INPROCESS_WORKER="false", LEDGER_LOG_LEVEL="WARNING")  # fmt: skip
    with live_app(env, "/healthz", timeout=60) as base:
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        assert _status(connection) == 200
        sock = connection.sock
        time.sleep(IDLE_S)
        # http.client reconnects on its own only if it saw the close before sending; on a
        # connection closed under it, the request fails with RemoteDisconnected.
        assert _status(connection) == 200
        assert connection.sock is sock, "the server closed the idle connection"
        connection.close()
