"""Read template.yaml the way CloudFormation would, just enough for the local stack.

The local stack must create what the template declares, so instead of repeating its values
it resolves them: parameters (defaults, overrides checked against the template's
constraints), conditions, SAM ``Globals`` and the intrinsic functions ``Ref``, ``Fn::GetAtt``,
``Fn::Sub``, ``Fn::Join``, ``Fn::If`` and the condition functions. Anything else raises
:class:`TemplateError` naming the intrinsic and where it sits, rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cfn_tools  # type: ignore[import-untyped]


class TemplateError(ValueError):
    """The template asks for something the local stack cannot reproduce faithfully."""


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing key or list item disappears."""


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class PhysicalResource:
    """What a created resource answers to ``Ref`` and ``Fn::GetAtt``."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


class Template:
    """A parsed template whose values resolve against local physical resources.

    Resources are registered as the caller creates them, so a reference to one that does
    not exist (yet, or at all locally) fails loudly instead of resolving to a wrong name.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        overrides: Mapping[str, str] | None = None,
        stack_name: str,
        region: str,
        account_id: str,
    ) -> None:
        self.document = document
        self.parameters = _parameter_values(document.get("Parameters", {}), overrides or {})
        self._pseudo = {
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._physical: dict[str, PhysicalResource] = {}
        self._intrinsics: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda args, path: not self._condition_value(args[0], path),
            "Fn::And": lambda args, path: all(self._condition_value(a, path) for a in args),
            "Fn::Or": lambda args, path: any(self._condition_value(a, path) for a in args),
            "Condition": lambda name, path: self.condition(name),
        }

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        overrides: Mapping[str, str] | None = None,
        stack_name: str,
        region: str,
        account_id: str,
    ) -> Template:
        """Parse a CloudFormation/SAM YAML file, short-form tags (``!Ref``...) included."""
        document = cfn_tools.load_yaml(Path(path).read_text(encoding="utf-8"))
        return cls(
            document,
            overrides=overrides,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
        )

    def resource(self, logical_id: str) -> Mapping[str, Any]:
        """The raw declaration of ``logical_id`` (Type, Properties...)."""
        try:
            resource: Mapping[str, Any] = self.document["Resources"][logical_id]
        except KeyError:
            raise TemplateError(f"the template declares no resource {logical_id}") from None
        return resource

    def properties(self, logical_id: str, *names: str) -> dict[str, Any]:
        """The named Properties of a resource that it sets, resolved, SAM ``Globals`` merged in.

        Only the named ones are resolved: the others may refer to resources (layers, log
        groups, alarms) that exist only in AWS.
        """
        resource = self.resource(logical_id)
        declared = resource.get("Properties", {})
        # SAM: AWS::Serverless::Function -> Globals.Function, AWS::Serverless::Api -> Globals.Api
        section = str(resource.get("Type", "")).removeprefix("AWS::Serverless::")
        if section != resource.get("Type"):
            declared = _merge_globals(self.document.get("Globals", {}).get(section, {}), declared)
        path = f"Resources.{logical_id}.Properties"
        resolved = (
            (name, self.resolve(declared[name], f"{path}.{name}"))
            for name in names
            if name in declared
        )
        return {name: value for name, value in resolved if value is not NO_VALUE}

    def register(self, logical_id: str, ref: str, **attributes: str) -> None:
        """Record the physical identity of a created resource for later references."""
        self.resource(logical_id)
        self._physical[logical_id] = PhysicalResource(ref, attributes)

    def condition(self, name: str) -> bool:
        """Evaluate a named entry of the template's ``Conditions`` section."""
        try:
            expression = self.document["Conditions"][name]
        except KeyError:
            raise TemplateError(f"the template declares no condition {name}") from None
        return self._condition_value(expression, f"Conditions.{name}")

    def resolve(self, value: Any, path: str = "") -> Any:
        """Replace every intrinsic function in ``value``; drop ``AWS::NoValue`` entries."""
        if isinstance(value, Mapping):
            if len(value) == 1:
                (key, argument), *_ = value.items()
                if key in self._intrinsics:
                    return self._intrinsics[key](argument, path)
                if key.startswith("Fn::"):
                    raise TemplateError(f"{key} at {path} is not supported by the local stack")
            items = ((k, self.resolve(v, f"{path}.{k}")) for k, v in value.items())
            return {k: v for k, v in items if v is not NO_VALUE}
        if isinstance(value, list):
            resolved = (self.resolve(v, f"{path}[{i}]") for i, v in enumerate(value))
            return [v for v in resolved if v is not NO_VALUE]
        return value

    def _ref(self, name: str, path: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            value = self.parameters[name]
            declared = self.document.get("Parameters", {}).get(name, {})
            if declared.get("Type") == "CommaDelimitedList":  # a list, as CloudFormation has it
                return [item.strip() for item in value.split(",")] if value else []
            return value
        if name in self._pseudo:
            return self._pseudo[name]
        return self._physical_resource(name, path).ref

    def _get_att(self, argument: str | list[str], path: str) -> str:
        logical_id, attribute = (
            argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument, path)
        )
        try:
            return self._physical_resource(logical_id, path).attributes[attribute]
        except KeyError:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute} at {path}: attribute not available locally"
            ) from None

    def _sub(self, argument: str | list[Any], path: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = self.resolve(variables, path)

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is how a template writes a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in values:
                return to_text(values[name])
            if "." in name and not name.startswith("AWS::"):
                return self._get_att(name, path)
            return to_text(self._ref(name, path))

        return _SUB_VARIABLE.sub(substitute, text)

    def _join(self, argument: list[Any], path: str) -> str:
        delimiter, values = self.resolve(argument, path)
        return str(delimiter).join(to_text(v) for v in values)

    def _if(self, argument: list[Any], path: str) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false, path)

    def _equals(self, argument: list[Any], path: str) -> bool:
        left, right = (to_text(v) for v in self.resolve(argument, path))
        return left == right

    def _condition_value(self, expression: Any, path: str) -> bool:
        value = self.resolve(expression, path)
        if not isinstance(value, bool):
            raise TemplateError(f"{path}: {expression!r} is not a condition")
        return value

    def _physical_resource(self, logical_id: str, path: str) -> PhysicalResource:
        if logical_id in self._physical:
            return self._physical[logical_id]
        if logical_id in self.document.get("Resources", {}):
            raise TemplateError(
                f"{path} refers to {logical_id}, which the local stack does not provision"
            )
        raise TemplateError(f"{path} refers to {logical_id}, which the template does not declare")


def to_text(value: Any) -> str:
    """A resolved scalar as CloudFormation would render it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def is_true(value: Any) -> bool:
    """CloudFormation booleans arrive as YAML booleans or as the strings true/false."""
    return to_text(value).lower() == "true"


def _parameter_values(
    declarations: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, str]
) -> dict[str, str]:
    unknown = sorted(set(overrides) - set(declarations))
    if unknown:
        raise TemplateError(f"overrides name undeclared parameters: {', '.join(unknown)}")
    values = {}
    for name, declaration in declarations.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in declaration:
            value = to_text(declaration["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default: pass it as an override")
        _check_parameter(name, value, declaration)
        values[name] = value
    return values


def _check_parameter(name: str, value: str, declaration: Mapping[str, Any]) -> None:
    """Refuse what CloudFormation would refuse, so a local run is a deployable one."""
    allowed = declaration.get("AllowedValues")
    if allowed is not None and value not in [to_text(v) for v in allowed]:
        raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
    pattern = declaration.get("AllowedPattern")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
    if declaration.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}={value!r} is not a number") from None
        low, high = declaration.get("MinValue"), declaration.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise TemplateError(f"parameter {name}={value} is outside [{low}, {high}]")


def _merge_globals(defaults: Any, declared: Any) -> Any:
    """SAM's Globals rule: maps merge, lists add up, the resource's own scalars win."""
    if isinstance(defaults, Mapping) and isinstance(declared, Mapping):
        merged = dict(defaults)
        for key, value in declared.items():
            merged[key] = _merge_globals(defaults[key], value) if key in defaults else value
        return merged
    if isinstance(defaults, list) and isinstance(declared, list):
        return defaults + declared
    return declared
