#!/usr/bin/python3
"""Kubernetes manifests against the Kubernetes API schema, with no cluster.

kubectl checks a manifest against the OpenAPI document a cluster serves, so
with no cluster it checks nothing (`kubectl apply --dry-run=client` stops at
"couldn't get current server API group list"). Debian's python3-kubernetes
carries the same schema offline: its model classes are generated from the
Kubernetes OpenAPI document (22.6.0: Kubernetes 1.22), each with its fields'
JSON names and types. This walks every document of every file given and
reports, with the file, the document and the field's path:

  - a kind its apiVersion does not serve (the group/version's API class has
    no create method for it);
  - a field the schema does not have (a typo such as `resource:` for
    `resources:` would be dropped silently by a cluster's lenient decoding);
  - a value of the wrong type (a list where a map is due, a string for a
    bool; quantities under resources.limits/requests may be numbers);
  - a required field missing (the model refuses None for it).

kustomization.yaml (kustomize.config.k8s.io) is not an API object: skipped.

Usage: k8s_schema_check.py FILE...   exit 0 when every document holds, 1
with one line per problem, 2 when python3-kubernetes is missing.
"""

import re
import sys

try:
    import kubernetes.client as k8s
    import yaml
except ImportError as e:  # install-deps --tests installs python3-kubernetes
    print(f"k8s_schema_check: {e} (Debian: apt-get install python3-kubernetes python3-yaml)")
    sys.exit(2)

SCALARS = {"str": str, "bool": bool, "float": (int, float), "datetime": str, "date": str}


def snake(kind):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def api_model(api_version, kind):
    """The model class of `kind` when `api_version` serves it, else None."""
    group, _, version = api_version.rpartition("/")
    group = group.split(".")[0] if group else "core"
    api = getattr(k8s, f"{group.capitalize()}{version.capitalize()}Api", None)
    if api is None:
        return None
    name = snake(kind)
    if not (hasattr(api, f"create_namespaced_{name}") or hasattr(api, f"create_{name}")):
        return None
    return getattr(k8s, f"{version[0].upper()}{version[1:]}{kind}", None)


def check(value, type_name, path, problems, quantity=False):
    if type_name.startswith("list["):
        if not isinstance(value, list):
            problems.append(f"{path}: a list is due, not {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", problems)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            problems.append(f"{path}: a map is due, not {type(value).__name__}")
            return
        inner = re.match(r"dict\([^,]*, (.*)\)$", type_name).group(1)
        limits = path.endswith((".limits", ".requests"))
        for key, item in value.items():
            check(item, inner, f"{path}.{key}", problems, quantity=limits)
        return
    if type_name == "object":  # IntOrString, raw JSON
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: an integer is due, not {value!r}")
        return
    if type_name in SCALARS:
        ok = isinstance(value, SCALARS[type_name])
        if type_name == "str" and quantity:
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        if type_name == "float" and isinstance(value, bool):
            ok = False
        if not ok:
            problems.append(f"{path}: a {type_name} is due, not {value!r}")
        return
    model = getattr(k8s, type_name, None)
    if model is None:
        problems.append(f"{path}: the schema names an unknown type {type_name}")
        return
    check_object(value, model, path, problems)


def check_object(value, model, path, problems):
    if not isinstance(value, dict):
        problems.append(f"{path}: an object ({model.__name__}) is due, not {value!r}")
        return
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    present = {}
    for key, item in value.items():
        attr = fields.get(key)
        if attr is None:
            problems.append(f"{path}.{key}: not a field of {model.__name__[2:] or model.__name__}")
            continue
        present[attr] = item
        check(item, model.openapi_types[attr], f"{path}.{key}", problems)
    try:  # the model refuses None for a required field
        model(**present)
    except ValueError as e:
        problems.append(f"{path}: {e}")


def check_file(path):
    problems = []
    with open(path) as f:
        documents = list(yaml.safe_load_all(f))
    for index, doc in enumerate(documents):
        if doc is None:
            continue
        where = f"{path} document {index + 1}"
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            problems.append(f"{where}: no apiVersion and kind")
            continue
        if doc["apiVersion"].startswith("kustomize.config.k8s.io/"):
            continue
        model = api_model(doc["apiVersion"], doc["kind"])
        if model is None:
            problems.append(f"{where}: {doc['apiVersion']} serves no kind {doc['kind']}")
            continue
        name = (doc.get("metadata") or {}).get("name", "?")
        check_object(doc, model, f"{where} ({doc['kind']} {name})", problems)
    return problems, len(documents)


def main(paths):
    problems, documents = [], 0
    for path in paths:
        found, count = check_file(path)
        problems += found
        documents += count
    for problem in problems:
        print(problem)
    print(f"k8s_schema_check: {documents} documents in {len(paths)} files, "
          f"{len(problems)} problems (schema: python3-kubernetes {k8s.__version__})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
