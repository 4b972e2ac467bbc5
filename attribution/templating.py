"""The one way the project renders HTML: Jinja2 with autoescaping on and undefined names an
error, templates read from a package's ``templates`` folder."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["strict_environment"]


def strict_environment(package: str) -> Environment:
    """The environment for the templates of ``package`` (``<package>/templates/``)."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
