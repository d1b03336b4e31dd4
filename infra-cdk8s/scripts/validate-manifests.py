#!/usr/bin/env python3
"""Validates the committed Kubernetes manifests (keda/, karpenter/).

* Custom resources (ScaledJob, TriggerAuthentication, NodePool, EC2NodeClass) against the
  openAPIV3Schema of the exact upstream CRDs (CRDS_DIR, default ../shared/crds), with unknown
  fields rejected the way the API server prunes/rejects them (additionalProperties: false on every
  structural object that does not set x-kubernetes-preserve-unknown-fields).
* Core objects (Namespace, ServiceAccount, ...) with kubernetes-validate --strict.

Usage: validate-manifests.py MANIFEST_DIR... ; exits 1 on the first invalid document set.
"""
import copy
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS_DIR = Path(os.environ.get("CRDS_DIR", ROOT.parent / "shared" / "crds"))
K8S_VERSION = os.environ.get("K8S_VERSION", "1.36")


def strict(schema):
    """Copy of an OpenAPI v3 structural schema that rejects unknown properties."""
    s = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if (node.get("type") == "object" and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        if node.get("nullable") and "type" in node:
            node["type"] = [node["type"], "null"]
        for key in ("properties", "patternProperties"):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), dict):
                walk(node[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for child in node.get(key, []):
                walk(child)

    walk(s)
    return s


def load_crds():
    crds = {}
    if not CRDS_DIR.is_dir():
        sys.exit(f"validate-manifests: CRD folder {CRDS_DIR} not found (set CRDS_DIR)")
    for f in sorted(CRDS_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                if v.get("served"):
                    crds[(f"{group}/{v['name']}", kind)] = (f.name, strict(v["schema"]["openAPIV3Schema"]))
    return crds


def main(dirs):
    crds = load_crds()
    core_files, failures, checked = [], 0, 0
    for d in dirs:
        for f in sorted(Path(d).glob("*.yaml")):
            docs = [x for x in yaml.safe_load_all(f.read_text()) if x]
            if not docs:
                print(f"FAIL {f}: no documents"); failures += 1
            for doc in docs:
                key = (doc.get("apiVersion"), doc.get("kind"))
                if key in crds:
                    crd_file, schema = crds[key]
                    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
                    for e in errors:
                        print(f"FAIL {f}: {key[1]} {'/'.join(map(str, e.path)) or '<root>'}: {e.message}")
                    failures += len(errors)
                    checked += 1
                    if not errors:
                        print(f"ok   {f}: {key[1]} {doc['metadata']['name']} valid against {crd_file}")
                elif "." in (doc.get("apiVersion") or "").split("/")[0]:
                    print(f"FAIL {f}: no CRD for {key}"); failures += 1
                else:
                    core_files.append(str(f))
    if core_files:
        kv = Path(sys.executable).parent / "kubernetes-validate"
        r = subprocess.run([str(kv), "--strict", "--kubernetes-version", K8S_VERSION, *sorted(set(core_files))])
        if r.returncode != 0:
            failures += 1
        checked += len(set(core_files))
    print(f"validate-manifests: {checked} checked, {failures} problem(s)")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or [ROOT / "keda", ROOT / "karpenter"]))
