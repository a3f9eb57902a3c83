"""Fixtures that load template.yaml, CloudFormation short-form tags included, as plain data."""

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cfn_tools  # type: ignore[import-untyped]
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

Resolver = Callable[[Any], Any]


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain dicts, lists and scalars, the
    short-form tags (`!Ref x`, `!GetAtt A.B`, `!Sub ...`) in their long JSON forms."""
    # cfn-flip's loader is the one CloudFormation tooling uses; the JSON round trip turns
    # its ordered mappings into plain dicts.
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_tools.load_yaml(path.read_text("utf-8"))))
    return loaded


def build_resolver(template: Mapping[str, Any], pseudo: Mapping[str, str]) -> Resolver:
    """Evaluate the intrinsics used in names (Ref, Sub, Select, Split) for one deployment.

    Parameters take their defaults; `pseudo` supplies AWS::StackName, AWS::StackId and the like.
    Anything else raises, so a test never passes on a value it could not compute.
    """
    parameters = {name: str(p["Default"]) for name, p in template["Parameters"].items()}

    def ref(name: str) -> str:
        if name in pseudo:
            return pseudo[name]
        if name in parameters:
            return parameters[name]
        raise KeyError(f"cannot resolve Ref {name}")

    def resolve(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return ref(argument)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            values = {key: resolve(value) for key, value in variables.items()}
            return _substitute(text, lambda name: values[name] if name in values else ref(name))
        if function == "Fn::Select":
            index, items = argument
            return resolve(items)[int(index)]
        if function == "Fn::Split":
            separator, text = argument
            return resolve(text).split(separator)
        raise NotImplementedError(f"cannot resolve {function}")

    return resolve


def _substitute(text: str, lookup: Callable[[str], str]) -> str:
    """Replace each ${Name} in a Fn::Sub string; ${Resource.Attr} is out of scope and raises."""
    out: list[str] = []
    rest = text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        if "." in name:
            raise NotImplementedError(f"cannot resolve attribute ${{{name}}}")
        out.extend((before, lookup(name)))
    out.append(rest)
    return "".join(out)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top directory."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The parsed template.yaml."""
    return load_template()


@pytest.fixture(scope="session")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    """Resources by logical id."""
    return dict(template["Resources"])


@pytest.fixture(scope="session")
def parameters(template: dict[str, Any]) -> dict[str, Any]:
    """Parameters by name."""
    return dict(template["Parameters"])


@pytest.fixture(scope="session")
def function_properties(template: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    """FusionFunction's effective properties: SAM Globals overlaid by the function's own."""
    merged = dict(template.get("Globals", {}).get("Function", {}))
    merged.update(resources["FusionFunction"]["Properties"])
    return merged


@pytest.fixture(scope="session")
def resolver_for(template: dict[str, Any]) -> Callable[[Mapping[str, str]], Resolver]:
    """A factory of resolvers for template.yaml, one per set of pseudo parameters."""
    return lambda pseudo: build_resolver(template, pseudo)
