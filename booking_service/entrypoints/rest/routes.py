"""The route table, compiled once from the services' google.api.http rules into a segment trie.

Matching walks the trie segment by segment, trying a literal child before a one-segment variable
before a rest-of-path variable, so literal segments win over variables whatever the order of the
RPCs in the proto; no request scans the routes with regular expressions. A path that matches with
another HTTP method is 405 (with the allowed ones), a path that matches nothing is 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from booking_service.entrypoints.rest.path_template import LITERAL, STAR, PathTemplate, parse

_PATTERNS = ("get", "put", "post", "delete", "patch")


#: The gateway's own paths, which carry no data: logged as they are.
PLAIN_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/asyncapi.json",
        "/docs",
        "/docs/",
        "/redoc",
        "/redoc/",
    }
)


class RouteConflict(ValueError):
    """Two rules claim the same HTTP method and path template."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of an RPC."""

    method: MethodDescriptor
    http_method: str
    template: PathTemplate
    body: str  # "*", a field name, or "" for none
    response_body: str
    binding: int  # 0 for the main rule, 1.. for additional_bindings

    @property
    def rpc(self) -> str:
        """The gRPC method path, `/booking.v1.BookingService/CreateBooking`."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    path_params: dict[str, str]


class PathNotText(Exception):
    """The path's percent-encoded bytes are not UTF-8: no id or name can be read from it."""


class MethodNotAllowed(Exception):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    star: _Node | None = None
    double_star: _Node | None = None
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)  # (HTTP method, verb) -> route

    def child(self, kind: str, value: str) -> _Node:
        if kind == LITERAL:
            return self.literals.setdefault(value, _Node())
        if kind == STAR:
            self.star = self.star or _Node()
            return self.star
        self.double_star = self.double_star or _Node()
        return self.double_star


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: list[Route] = []
        self._root = _Node()
        for route in routes:
            self._add(route)

    @classmethod
    def from_services(cls, services: Iterable[ServiceDescriptor]) -> RouteTable:
        return cls(route for service in services for method in service.methods for route in routes_of(method))

    def _add(self, route: Route) -> None:
        node = self._root
        for segment in route.template.segments:
            node = node.child(segment.kind, segment.value)
        key = (route.http_method, route.template.verb)
        if key in node.routes:
            other = node.routes[key]
            raise RouteConflict(
                f"{route.http_method} {route.template.template} is bound to both {other.rpc} and {route.rpc}"
            )
        node.routes[key] = route
        self.routes.append(route)

    def match(self, http_method: str, path: str) -> Match | None:
        """The route for this request; None when no path matches (404); raises MethodNotAllowed
        when the path matches only with other methods (405)."""
        raw = path[1:].split("/") if path.startswith("/") else [path]
        try:
            segments = [unquote(s, errors="strict") for s in raw]
        except UnicodeDecodeError:
            raise PathNotText from None
        allowed: list[str] = []
        for verb, candidate in _verb_variants(segments):
            for node, consumed in _walk(self._root, candidate, 0):
                route = node.routes.get((http_method, verb))
                if route is not None:
                    return Match(route, _bind(route.template, consumed, candidate))
                allowed.extend(m for (m, v) in node.routes if v == verb and m not in allowed)
        if allowed:
            raise MethodNotAllowed(sorted(allowed))
        return None

    def template_of(self, http_method: str, path: str) -> str:
        """What a log line names for a request's path: its route's template
        (`/api/v1/bookings/guest/{guest_id}`), one of the gateway's fixed paths, or `(no route)`;
        never the raw path, which may carry guest data (an id, a percent-encoded address)."""
        if path in PLAIN_PATHS:
            return path
        try:
            match = self.match(http_method, path)
        except MethodNotAllowed:
            match = self._any_method(path)
        except PathNotText:
            return "(no route)"
        return match.route.template.template if match is not None else "(no route)"

    def _any_method(self, path: str) -> Match | None:
        for route in self.routes:
            try:
                found = self.match(route.http_method, path)
            except MethodNotAllowed:
                continue
            if found is not None:
                return found
        return None


def routes_of(method: MethodDescriptor) -> list[Route]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return [_route(method, r, i) for i, r in enumerate([rule, *rule.additional_bindings])]


def _route(method: MethodDescriptor, rule: http_pb2.HttpRule, binding: int) -> Route:
    kind = rule.WhichOneof("pattern")
    if kind in _PATTERNS:
        http_method, template = kind.upper(), getattr(rule, kind)
    elif kind == "custom":
        http_method, template = rule.custom.kind.upper(), rule.custom.path
    else:
        raise ValueError(f"{method.full_name}: google.api.http rule without a pattern")
    return Route(method, http_method, parse(template), rule.body, rule.response_body, binding)


def _verb_variants(segments: list[str]) -> Iterator[tuple[str, list[str]]]:
    """The path as is, and, when its last segment has a colon, split into segments and a verb."""
    yield "", segments
    head, colon, verb = segments[-1].rpartition(":")
    if colon and verb:
        yield verb, [*segments[:-1], head]


def _walk(node: _Node, segments: list[str], index: int) -> Iterator[tuple[_Node, list[int]]]:
    """Nodes whose templates match the segments, best first; with the index at which each
    template segment matched (a rest-of-path segment consumes everything left)."""
    if index == len(segments):
        if node.routes:
            yield node, []
        if node.double_star is not None and node.double_star.routes:  # `**` also matches nothing
            yield node.double_star, [index]
        return
    segment = segments[index]
    literal = node.literals.get(segment)
    if literal is not None:
        for found, consumed in _walk(literal, segments, index + 1):
            yield found, [index, *consumed]
    if node.star is not None and segment:
        for found, consumed in _walk(node.star, segments, index + 1):
            yield found, [index, *consumed]
    if node.double_star is not None and node.double_star.routes:
        yield node.double_star, [index]


def _bind(template: PathTemplate, consumed: list[int], segments: list[str]) -> dict[str, str]:
    """The value of each variable: the path segments its template segments matched."""
    params = {}
    for variable in template.variables:
        first = consumed[variable.start] if variable.start < len(consumed) else len(segments)
        last = len(segments) if variable.end is None else consumed[variable.end - 1] + 1
        params[variable.field_path] = "/".join(segments[first:last])
    return params
