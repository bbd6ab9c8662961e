"""What a client needs to reach a session: its token, and the URLs of its front doors."""

from __future__ import annotations

import sys
import warnings

from framecast._support.address import is_loopback, service_url
from framecast.session.app import FramecastServer
from framecast.wire.compact import DEFAULT_PRECISION

__all__ = ["SessionAccess"]


class SessionAccess:
    """The token and URLs of a session (a base of :class:`~framecast.Session`)."""

    _app: FramecastServer
    _token: str
    _token_generated: bool
    name: str

    def _announce(self, address: str, tls: bool) -> None:
        """Warn of a token sent in clear text; print a generated token's URL, once."""
        if self._token and not tls and not is_loopback(address):
            warnings.warn(
                f"serving on {address} without TLS: the token travels in clear text, so "
                "anyone on the network path can read it; pass tls=(certfile, keyfile)",
                UserWarning,
                stacklevel=3,
            )
        if self._token_generated:
            # As the notebook server does: the one place the token is shown is the console of
            # whoever started the server. It never goes to a log.
            print(f"framecast: serving at {self.url}", file=sys.stderr, flush=True)

    @property
    def token(self) -> str:
        """The token a client must present, or ``""`` when the server asks for none."""
        return self._token

    @property
    def token_generated(self) -> bool:
        """True when framecast made up :attr:`token` (the only case in which it prints it)."""
        return self._token_generated

    @property
    def url(self) -> str:
        """``framecast://host:port``, with ``?token=...`` when a token is needed: what
        ``framecast.Client`` and ``framecast watch`` accept. Over TLS a client also needs
        the certificate it should trust (``tls=``)."""
        return service_url("framecast", self._app.address, self._app.port, self._token)

    @property
    def nanover_port(self) -> int | None:
        """The port NanoVer's clients connect to, or None when that endpoint is off."""
        return None if self._app.nanover is None else self._app.nanover.port

    @property
    def nanover_url(self) -> str | None:
        """``ws://host:port`` (``wss://`` over TLS, ``?token=`` when needed) for NanoVer's
        clients (``NanoverImdClient.from_url``), or None when that endpoint is off."""
        end = self._app.nanover
        return None if end is None else service_url(end.scheme, end.address, end.port, self._token)

    # -- NATS ---------------------------------------------------------------------------------
    def relay(self, url: str | None, *, precision: float | None = DEFAULT_PRECISION) -> str | None:
        """Publish this session to NATS at ``url`` (``nats://host:4222``; credentials,
        TLS and clusters as :class:`~framecast.Client` takes them), as subjects
        ``framecast.<name>.*``, so that viewers anywhere NATS reaches can watch it with
        ``Client(session.relay_url)``; ``None`` stops. Positions travel at ``precision``
        nm (None: exactly). Replaces an earlier relay; returns :attr:`relay_url`.

        Raises ``PermissionError`` or ``ConnectionError`` when NATS refuses or does not
        answer, ``ValueError`` when the session's name cannot name NATS subjects, and
        names the ``nats`` extra when it is missing.
        """
        if url is None:
            self._app.stop_relay()
            return None
        self._app.start_relay(str(url), session=self.name, precision=precision)
        return self.relay_url

    def _client_count(self) -> int:
        """Frame subscribers: gRPC and NanoVer clients, and NATS viewers by their leases."""
        relay = self._app.relay
        return self._app.frames.subscriber_count + (0 if relay is None else relay.viewers)

    @property
    def relay_url(self) -> str | None:
        """``nats://host:4222/<name>``, what a viewer passes to ``framecast.Client`` or
        ``framecast watch`` (without the relay's credentials: each viewer has its own), or
        None when the session is not relayed."""
        relay = self._app.relay
        if relay is None:
            return None
        return f"{relay.address.display()}/{relay.session}"
