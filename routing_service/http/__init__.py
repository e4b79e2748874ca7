"""Routing over HTTP: the officers' API, the roster admin API and the pages; the one place a
:class:`routing_service.domain.RoutingRefused` becomes a status code or a page message."""
