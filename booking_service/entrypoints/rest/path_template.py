"""google.api.http path templates, parsed once into segments and variables.

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;

`{name}` is `{name=*}`: one segment. `**` matches the rest of the path and may only come last.
"""

from __future__ import annotations

from dataclasses import dataclass

LITERAL, STAR, DOUBLE_STAR = "literal", "*", "**"


class TemplateError(ValueError):
    """A path template that breaks the google.api.http grammar."""


@dataclass(frozen=True, slots=True)
class Segment:
    kind: str  # LITERAL, STAR or DOUBLE_STAR
    value: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A request field bound to the path segments [start, end); end None means to the end."""

    field_path: str
    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class PathTemplate:
    template: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str = ""

    def openapi_path(self) -> str:
        """The template as OpenAPI writes it: `/api/v1/bookings/{booking_id}`."""
        parts: list[str] = []
        index = 0
        for variable in self.variables:
            parts.extend(_show(s) for s in self.segments[index : variable.start])
            parts.append("{" + variable.field_path + "}")
            index = len(self.segments) if variable.end is None else variable.end
        parts.extend(_show(s) for s in self.segments[index:])
        return "/" + "/".join(parts) + (f":{self.verb}" if self.verb else "")


def _show(segment: Segment) -> str:
    return segment.value if segment.kind == LITERAL else segment.kind


def parse(template: str) -> PathTemplate:
    if not template.startswith("/"):
        raise TemplateError(f"{template!r}: a path template starts with '/'")
    body, verb = _split_verb(template)
    segments: list[Segment] = []
    variables: list[Variable] = []
    for part in _split_top_level(body[1:], template):
        if part.startswith("{"):
            if not part.endswith("}"):
                raise TemplateError(f"{template!r}: unclosed variable in {part!r}")
            name, _, pattern = part[1:-1].partition("=")
            if not name or not all(p.isidentifier() for p in name.split(".")):
                raise TemplateError(f"{template!r}: {name!r} is not a field path")
            start = len(segments)
            inner = [_segment(p, template) for p in (pattern or "*").split("/")]
            segments.extend(inner)
            end = None if inner[-1].kind == DOUBLE_STAR else len(segments)
            variables.append(Variable(name, start, end))
        else:
            segments.append(_segment(part, template))
    for segment in segments[:-1]:
        if segment.kind == DOUBLE_STAR:
            raise TemplateError(f"{template!r}: '**' may only come last")
    return PathTemplate(template, tuple(segments), tuple(variables), verb)


def _segment(text: str, template: str) -> Segment:
    if text in (STAR, DOUBLE_STAR):
        return Segment(text)
    if not text or any(c in text for c in "{}*"):
        raise TemplateError(f"{template!r}: {text!r} is not a valid segment")
    return Segment(LITERAL, text)


def _split_verb(template: str) -> tuple[str, str]:
    last_slash = template.rfind("/")
    last_brace = template.rfind("}")
    colon = template.rfind(":")
    if colon > last_slash and colon > last_brace:
        return template[:colon], template[colon + 1 :]
    return template, ""


def _split_top_level(text: str, template: str) -> list[str]:
    """Splits on '/' outside braces (a variable's pattern may contain '/')."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise TemplateError(f"{template!r}: unbalanced '}}'")
        if char == "/" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth:
        raise TemplateError(f"{template!r}: unbalanced '{{'")
    parts.append(current)
    return parts
