#!/usr/bin/env python3
"""Validates afterhook config files against config/afterhook.schema.json.

Usage: validate_config.py SCHEMA FILE...

The schema is checked first (draft 2020-12). Each file is then read as YAML
1.2 (the core schema, as editors read it: only true/false are booleans, no
yes/no, no sexagesimal numbers, no timestamps) and validated. Output, one
block per file in the order given:

    valid FILE
    invalid FILE
      key.path: message        (one line per error; hooks[0].log for lists)

Exit status: 0 when every file is valid, 1 when one is not, 2 when the
schema or the Python packages are missing or broken (python3-jsonschema and
python3-yaml on Debian 12).
"""

import json
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as error:
    print(f"cannot import {error.name}: install python3-jsonschema and python3-yaml", file=sys.stderr)
    sys.exit(2)


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's implicit types."""


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


Yaml12Loader.yaml_implicit_resolvers = {}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$"),
    list("-+0123456789."))
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def key_path(parts):
    """The loader's spelling of a path: timeouts.connect, hooks[0].log."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "(document)"


def described(error):
    """(key path, message) pairs for one schema error. An unknown key is
    named in the path, as the loader names it, rather than at its parent."""
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        return [(key_path(list(error.absolute_path) + [key]), f"unknown key '{key}'")
                for key in error.instance if key not in known]
    message = error.message
    if isinstance(error.instance, (dict, list)) and message.startswith(repr(error.instance)):
        # A whole hook or list repeated in the message hides what is wrong.
        kind = "the mapping" if isinstance(error.instance, dict) else "the list"
        message = kind + message[len(repr(error.instance)):]
    return [(key_path(error.absolute_path), message.replace("\n", " "))]


def problems(validator, file_name):
    """Every error in one file as (key path, message), sorted by key path."""
    try:
        with open(file_name, encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=Yaml12Loader)
    except (OSError, yaml.YAMLError) as error:
        return [("(document)", f"cannot read: {error}".replace("\n", " "))]
    found = []
    for error in validator.iter_errors(document):
        found.extend(described(error))
    return sorted(found)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as stream:
            schema = json.load(stream)
        jsonschema.Draft202012Validator.check_schema(schema)
    except (OSError, ValueError, jsonschema.SchemaError) as error:
        print(f"bad schema {argv[1]}: {error}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    all_valid = True
    for file_name in argv[2:]:
        found = problems(validator, file_name)
        print(f"{'invalid' if found else 'valid'} {file_name}")
        for path, message in found:
            print(f"  {path}: {message}")
        all_valid = all_valid and not found
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
