#!/usr/bin/env python3
"""Conformance of eks-sim to AWS's published API models, as botocore ships them.

Drives the simulator with botocore (the AWS CLI's client library) through the calls
aws-auth-migrate makes, and a few more the simulator serves, on the world of
tests/conformance/world.yaml: list and describe clusters, node groups and Fargate profiles, the
CONFIG_MAP -> API_AND_CONFIG_MAP -> API mode changes with their updates, the access-entry and
access-policy calls, tags, IAM GetRole and STS GetCallerIdentity / AssumeRole, every list with a
small maxResults so that nextToken is followed, and the errors the tool relies on.

Every raw HTTP response (status, headers, body, captured by the `before-parse` event before
botocore interprets it) is checked against the operation's model in botocore's data:

  success  the status is the modeled one; every member in the body exists in the output shape
           (under its serialized name: IAM/STS bodies are <OpResponse><OpResult>…</OpResult>
           <ResponseMetadata><RequestId>…), with the modeled type (rest-json timestamps are epoch
           numbers, query timestamps ISO 8601), enum value, length/range and pattern; every
           required member is present.
  error    the code is one the model lists for the operation, or one of GENERIC_ERRORS below; the
           status is the one the error shape (or that table) gives; the body carries what the SDKs
           read (rest-json: x-amzn-ErrorType header or __type/code, and message; query:
           <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>), and nothing the
           error shape does not define.

Every violation is printed with the operation, the path in the body, what the model expects and
what was found; the exit status is 1 when there is at least one, 2 on a usage or setup problem.

Environment (what `eks-sim serve` prints): AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_EKS),
AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. Needs botocore (pinned in
.ci/requirements.txt) and the standard library only. `--list-operations` prints the operations the
run covers; tests/conformance.rs compares TOOL_OPERATIONS with the calls in src/.
"""

import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

# The AWS operations aws-auth-migrate calls (fluent calls of aws-sdk-eks/-iam/-sts in src/, and
# the AssumeRoleProvider of --role-arn). tests/conformance.rs fails when src/ calls one that is
# not listed here, and the run fails when one listed here is not exercised with a success.
TOOL_OPERATIONS = (
    "eks:DescribeCluster",
    "eks:UpdateClusterConfig",
    "eks:ListUpdates",
    "eks:DescribeUpdate",
    "eks:CreateAccessEntry",
    "eks:ListAccessEntries",
    "eks:DescribeAccessEntry",
    "eks:UpdateAccessEntry",
    "eks:DeleteAccessEntry",
    "eks:AssociateAccessPolicy",
    "eks:ListAssociatedAccessPolicies",
    "eks:DisassociateAccessPolicy",
    "eks:ListNodegroups",
    "eks:DescribeNodegroup",
    "eks:ListFargateProfiles",
    "eks:DescribeFargateProfile",
    "iam:GetRole",
    "iam:GetUser",
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
)

# Served by the simulator for people rehearsing with the AWS CLI; checked the same way.
OTHER_OPERATIONS = (
    "eks:ListClusters",
    "eks:ListAccessPolicies",
    "eks:TagResource",
    "eks:UntagResource",
    "eks:ListTagsForResource",
    "iam:ListRoles",
)

# Errors any operation may answer although no operation's model lists them (AWS's "common
# errors"), limited to the ones the sequence provokes. Code -> HTTP status. Where a service model
# defines the shape, the status is the model's (checked at start-up by check_generic_table).
GENERIC_ERRORS = {
    "rest-json": {
        # An IAM policy denies the caller; EKS models the shape (403) without listing it per
        # operation. The simulator answers it for a cluster of another account.
        "AccessDeniedException": 403,
        # Throttling applies to every API; EKS models it (429) on UpdateClusterConfig only.
        "ThrottlingException": 429,
        # Expired session credentials: 403 on JSON APIs (common errors of the API references).
        "ExpiredTokenException": 403,
    },
    "query": {
        # Input validation of IAM and STS (e.g. a RoleName outside [\w+=,.@-]{1,64}), 400.
        "ValidationError": 400,
        # STS AssumeRole of a role whose trust policy does not name the caller.
        "AccessDenied": 403,
        # Throttling of the query APIs ("Rate exceeded"), one of botocore's throttling codes.
        "Throttling": 400,
        # Expired session credentials on IAM and STS: `<Code>ExpiredToken</Code>` with 403 as
        # reported from the wire (aws/aws-sdk-java-v2#1649 for STS, cfn-sphere/cfn-sphere#55 for
        # IAM); STS's ExpiredTokenException (400) is the AssumeRole* token parameter, not this.
        "ExpiredToken": 403,
        # Server side, retried by every SDK.
        "InternalFailure": 500,
        "ServiceUnavailable": 503,
    },
}
# Server-side errors EKS models per operation but not on every one (ListAccessPolicies lists
# ServerException only, tag calls neither): generic for rest-json when the model has the shape.
GENERIC_MODELED_SHAPES = ("ServerException", "ServiceUnavailableException")

# What each protocol's responses are labelled (AWS sends text/xml for query APIs).
CONTENT_TYPES = {"rest-json": ("application/json",), "query": ("text/xml",)}

ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")
BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class Violations:
    """Every finding, in order."""

    def __init__(self):
        self.items = []

    def add(self, operation, path, expected, found):
        self.items.append((operation, path, expected, found))

    def report(self, out):
        for op, path, expected, found in self.items:
            out.write(f"{op} {path}: expected {expected}, found {found}\n")


def _short(value, limit=120):
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _found(value):
    """A JSON value as found: its JSON type and text (strings quoted)."""
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
    return f"{kind} {_short(json.dumps(value))}"


def _java_pattern(pattern):
    """The model's (Java) pattern as a Python regex, or None when Python cannot express it."""
    if "\\p{" in pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


class Checker:
    """Checks raw responses against one service model."""

    def __init__(self, model, violations):
        self.model = model
        self.protocol = getattr(model, "resolved_protocol", model.protocol)
        self.v = violations
        self.patterns_skipped = set()

    # ---------------------------------------------------------------- scalar constraints

    def _constraints(self, op, path, shape, value):
        md = shape.metadata
        enum = md.get("enum")
        if enum and value not in enum:
            self.v.add(op, path, f"one of {shape.name} {sorted(enum)}", repr(value))
        if shape.type_name == "string":
            if "min" in md and len(value) < md["min"]:
                self.v.add(
                    op, path, f"{shape.name} of at least {md['min']} characters", repr(value)
                )
            if "max" in md and len(value) > md["max"]:
                self.v.add(
                    op, path, f"{shape.name} of at most {md['max']} characters", _short(value)
                )
            if "pattern" in md:
                rx = _java_pattern(md["pattern"])
                if rx is None:
                    self.patterns_skipped.add(md["pattern"])
                elif not rx.fullmatch(value):
                    self.v.add(op, path, f"{shape.name} matching {md['pattern']}", repr(value))
        elif shape.type_name in INT_RANGE:
            lo, hi = INT_RANGE[shape.type_name]
            lo, hi = max(lo, md.get("min", lo)), min(hi, md.get("max", hi))
            if not lo <= value <= hi:
                self.v.add(op, path, f"{shape.name} in [{lo}, {hi}]", value)

    def _collection_size(self, op, path, shape, n):
        # Only the maximum: AWS answers empty lists and maps where the model's minimum is meant
        # for requests (describe-access-entry shows `"tags": {}` against TagMap's min 1).
        md = shape.metadata
        if "max" in md and n > md["max"]:
            self.v.add(op, path, f"{shape.name} with at most {md['max']} items", f"{n} items")

    # ---------------------------------------------------------------- JSON (rest-json)

    @staticmethod
    def body_members(shape):
        """Members carried in a rest-json body: serialized name -> (member name, shape)."""
        out = {}
        for name, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            out[member.serialization.get("name", name)] = (name, member)
        return out

    def check_json(self, op, path, shape, value):
        t = shape.type_name
        if value is None:
            # AWS leaves absent members out; the SDKs read null as absent, but a model type is
            # never null.
            self.v.add(op, path, f"{t} {shape.name} (absent members are left out)", "null")
            return
        if t == "structure":
            if not isinstance(value, dict):
                self.v.add(op, path, f"object {shape.name}", _found(value))
                return
            members = self.body_members(shape)
            for key, item in value.items():
                if key not in members:
                    self.v.add(
                        op,
                        f"{path}.{key}",
                        f"a member of {shape.name} {sorted(members)}",
                        "unknown member",
                    )
                    continue
                self.check_json(op, f"{path}.{key}", members[key][1], item)
            self._required(op, path, shape, [members_name(members, k) for k in value])
        elif t == "list":
            if not isinstance(value, list):
                self.v.add(op, path, f"array {shape.name}", _found(value))
                return
            self._collection_size(op, path, shape, len(value))
            for i, item in enumerate(value):
                self.check_json(op, f"{path}[{i}]", shape.member, item)
        elif t == "map":
            if not isinstance(value, dict):
                self.v.add(op, path, f"object {shape.name} (map)", _found(value))
                return
            self._collection_size(op, path, shape, len(value))
            for k, item in value.items():
                self.check_json(op, f"{path}{{key {k!r}}}", shape.key, k)
                self.check_json(op, f"{path}[{k!r}]", shape.value, item)
        elif t == "string":
            if not isinstance(value, str):
                self.v.add(op, path, f"string {shape.name}", _found(value))
                return
            self._constraints(op, path, shape, value)
        elif t in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self.v.add(op, path, f"{t} {shape.name}", _found(value))
                return
            self._constraints(op, path, shape, value)
        elif t in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.v.add(op, path, f"{t} {shape.name}", _found(value))
        elif t == "boolean":
            if not isinstance(value, bool):
                self.v.add(op, path, f"boolean {shape.name}", _found(value))
        elif t == "timestamp":
            fmt = shape.serialization.get("timestampFormat") or self.model.metadata.get(
                "timestampFormat", "unixTimestamp"
            )
            if fmt == "unixTimestamp":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    self.v.add(
                        op, path, f"timestamp {shape.name} as epoch seconds (number)", _found(value)
                    )
            elif not (isinstance(value, str) and ISO8601.fullmatch(value)):
                self.v.add(op, path, f"timestamp {shape.name} as {fmt}", _found(value))
        elif t == "blob":
            if not (isinstance(value, str) and BASE64.fullmatch(value)):
                self.v.add(op, path, f"blob {shape.name} as base64", _found(value))
        elif t == "document":
            pass
        else:
            self.v.add(op, path, f"a type this checker knows ({t})", _found(value))

    def _required(self, op, path, shape, present, sep="."):
        for name in shape.required_members:
            if name not in present:
                serialized = shape.members[name].serialization.get("name", name)
                self.v.add(
                    op, f"{path}{sep}{serialized}", f"required member of {shape.name}", "absent"
                )

    # ---------------------------------------------------------------- XML (query)

    def check_xml(self, op, path, shape, elem, ns):
        t = shape.type_name
        tag_ns, _ = split_tag(elem.tag)
        if tag_ns != ns:
            self.v.add(op, path, f"element in namespace {ns!r}", repr(tag_ns))
        if t == "structure":
            members = {}
            for name, member in shape.members.items():
                members[member.serialization.get("name", name)] = (name, member)
            seen = {}
            for child in elem:
                _, local = split_tag(child.tag)
                if local not in members:
                    self.v.add(
                        op,
                        f"{path}/{local}",
                        f"a member of {shape.name} {sorted(members)}",
                        "unknown element",
                    )
                    continue
                name, member = members[local]
                if name in seen and not member.serialization.get("flattened"):
                    self.v.add(op, f"{path}/{local}", "one element", "repeated element")
                seen[name] = True
                self.check_xml(op, f"{path}/{local}", member, child, ns)
            if (elem.text or "").strip():
                self.v.add(
                    op,
                    path,
                    f"structure {shape.name} (elements only)",
                    f"text {_short(elem.text.strip())}",
                )
            self._required(op, path, shape, seen, sep="/")
        elif t == "list":
            if shape.serialization.get("flattened"):
                self.v.add(
                    op, path, "a non-flattened list", "flattened list in the model (not handled)"
                )
                return
            item_name = shape.member.serialization.get("name", "member")
            items = list(elem)
            self._collection_size(op, path, shape, len(items))
            for i, child in enumerate(items):
                _, local = split_tag(child.tag)
                if local != item_name:
                    self.v.add(
                        op, f"{path}/{local}", f"list items named <{item_name}>", f"<{local}>"
                    )
                    continue
                self.check_xml(op, f"{path}/{item_name}[{i + 1}]", shape.member, child, ns)
        elif t == "map":
            key_name = shape.key.serialization.get("name", "key")
            value_name = shape.value.serialization.get("name", "value")
            entries = list(elem)
            self._collection_size(op, path, shape, len(entries))
            for i, entry in enumerate(entries):
                epath = f"{path}/entry[{i + 1}]"
                if split_tag(entry.tag)[1] != "entry":
                    self.v.add(op, epath, "<entry>", f"<{split_tag(entry.tag)[1]}>")
                    continue
                parts = {split_tag(c.tag)[1]: c for c in entry}
                if set(parts) != {key_name, value_name}:
                    self.v.add(op, epath, f"<{key_name}> and <{value_name}>", sorted(parts))
                    continue
                self.check_xml(op, f"{epath}/{key_name}", shape.key, parts[key_name], ns)
                self.check_xml(op, f"{epath}/{value_name}", shape.value, parts[value_name], ns)
        else:
            if len(elem):
                self.v.add(op, path, f"{t} {shape.name} (text only)", "child elements")
                return
            text = elem.text or ""
            if t == "string":
                self._constraints(op, path, shape, text)
            elif t in ("integer", "long"):
                if not re.fullmatch(r"-?\d+", text):
                    self.v.add(op, path, f"{t} {shape.name}", repr(text))
                else:
                    self._constraints(op, path, shape, int(text))
            elif t in ("float", "double"):
                try:
                    float(text)
                except ValueError:
                    self.v.add(op, path, f"{t} {shape.name}", repr(text))
            elif t == "boolean":
                if text not in ("true", "false"):
                    self.v.add(op, path, f"boolean {shape.name} (true|false)", repr(text))
            elif t == "timestamp":
                fmt = shape.serialization.get("timestampFormat") or "iso8601"
                ok = (
                    ISO8601.fullmatch(text)
                    if fmt == "iso8601"
                    else re.fullmatch(r"\d+(\.\d+)?", text)
                )
                if not ok:
                    self.v.add(op, path, f"timestamp {shape.name} as {fmt}", repr(text))
            elif t == "blob":
                if not BASE64.fullmatch(text):
                    self.v.add(op, path, f"blob {shape.name} as base64", _short(text))
            else:
                self.v.add(op, path, f"a type this checker knows ({t})", repr(text))


def members_name(members, serialized):
    return members[serialized][0] if serialized in members else serialized


def split_tag(tag):
    """`{ns}local` -> (ns, local); no namespace -> ('', local)."""
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return "", tag


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


class Conformance:
    """Captures every response of the clients it wires and checks it."""

    def __init__(self, session, violations):
        self.session = session
        self.v = violations
        self.checkers = {}
        self.last = None
        self.succeeded = set()
        self.errors_seen = set()
        self.calls = 0

    def wire(self, client):
        # Before botocore parses: a body it cannot read is still captured and checked.
        client.meta.events.register("before-parse", self._before_parse)
        return client

    def _before_parse(self, operation_model, response_dict, **_):
        self.last = (
            response_dict["status_code"],
            dict(response_dict["headers"]),
            response_dict["body"],
            operation_model,
        )

    def checker(self, service_model):
        name = service_model.service_name
        if name not in self.checkers:
            self.checkers[name] = Checker(service_model, self.v)
        return self.checkers[name]

    def call(self, client, operation, expect=None, **params):
        """Calls `operation`, checks the raw response, and returns botocore's parsed result.

        `expect` is None for success, or the error code (or a tuple of codes) the call must answer.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        self.last = None
        self.calls += 1
        service = client.meta.service_model.service_name
        label = f"{service}:{operation}"
        outcome = f"(outcome of {_short(params, 160)})"
        method = getattr(client, _method(client, operation))
        parsed = None
        try:
            parsed = method(**params)
        except ClientError as e:
            parsed = e.response
        except BotoCoreError as e:
            # A response botocore cannot read, or none at all.
            self.v.add(label, outcome, "a response botocore reads", f"{type(e).__name__}: {e}")
        if self.last is None:
            self.v.add(label, "(request)", "an HTTP response", "none (connection failed?)")
            return parsed if isinstance(parsed, dict) else {}
        status, headers, body, op_model = self.last
        checker = self.checker(op_model.service_model)
        wanted = expect if isinstance(expect, tuple) else (expect,)
        if status < 300:
            self.check_success(checker, label, op_model, status, headers, body)
            if expect is not None:
                self.v.add(label, outcome, f"error {' or '.join(wanted)}", f"success {status}")
            else:
                self.succeeded.add(label)
        else:
            code = self.check_error(checker, label, op_model, status, headers, body)
            if code:
                self.errors_seen.add(f"{label} {code}")
            if expect is None:
                text = _short(body.decode("utf-8", "replace"))
                self.v.add(label, outcome, "success", f"error {code} ({status}): {text}")
            elif code not in wanted:
                self.v.add(label, outcome, f"error {' or '.join(wanted)}", f"{code} ({status})")
        return parsed if isinstance(parsed, dict) else {}

    # ---------------------------------------------------------------- success

    def check_content_type(self, checker, label, headers):
        want = CONTENT_TYPES.get(checker.protocol, ())
        found = (header(headers, "content-type") or "").split(";")[0].strip()
        if found not in want:
            self.v.add(label, "(headers)", f"content-type {' or '.join(want)}", found or "absent")

    def check_success(self, checker, label, op_model, status, headers, body):
        want = op_model.http.get("responseCode", 200)
        if status != want:
            self.v.add(label, "(status)", f"HTTP {want}", f"HTTP {status}")
        self.check_content_type(checker, label, headers)
        shape = op_model.output_shape
        if checker.protocol == "rest-json":
            if not header(headers, "x-amzn-RequestId"):
                self.v.add(label, "(headers)", "x-amzn-RequestId", "absent")
            try:
                value = json.loads(body) if body.strip() else {}
            except ValueError as e:
                self.v.add(
                    label, "$", "a JSON body", f"{e}: {_short(body.decode('utf-8', 'replace'))}"
                )
                return
            if shape is None:
                if value:
                    self.v.add(label, "$", "an empty body (no output shape)", _short(value))
                return
            payload = shape.serialization.get("payload")
            if payload:
                shape = shape.members[payload]
            checker.check_json(label, "$", shape, value)
        elif checker.protocol == "query":
            self.check_query_success(checker, label, op_model, shape, body)
        else:
            self.v.add(label, "(protocol)", "rest-json or query", checker.protocol)

    def check_query_success(self, checker, label, op_model, shape, body):
        ns = op_model.service_model.metadata.get("xmlNamespace", "")
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            self.v.add(label, "/", "an XML body", f"{e}: {_short(body.decode('utf-8', 'replace'))}")
            return
        root_ns, root_name = split_tag(root.tag)
        want_root = f"{op_model.name}Response"
        if root_name != want_root or root_ns != ns:
            self.v.add(
                label, "/", f"<{want_root} xmlns={ns!r}>", f"<{root_name} xmlns={root_ns!r}>"
            )
        wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
        allowed = {"ResponseMetadata"} | ({wrapper} if wrapper else set())
        result = None
        metadata = None
        for child in root:
            _, local = split_tag(child.tag)
            if local not in allowed:
                self.v.add(
                    label, f"/{want_root}/{local}", f"one of {sorted(allowed)}", "unknown element"
                )
            elif local == wrapper:
                result = child
            else:
                metadata = child
        if metadata is None or metadata.find(f"{{{ns}}}RequestId") is None:
            self.v.add(
                label,
                f"/{want_root}/ResponseMetadata/RequestId",
                "present (SDKs read the request id)",
                "absent",
            )
        if wrapper:
            if result is None:
                self.v.add(label, f"/{want_root}/{wrapper}", "present", "absent")
                return
            checker.check_xml(label, f"/{want_root}/{wrapper}", shape, result, ns)

    # ---------------------------------------------------------------- errors

    def allowed_errors(self, checker, op_model):
        """Code -> (status, error shape or None) the operation may answer."""
        out = {}
        for shape in op_model.error_shapes:
            err = shape.metadata.get("error", {})
            out[err.get("code", shape.name)] = (err.get("httpStatusCode"), shape)
        model = op_model.service_model
        for code, status in GENERIC_ERRORS.get(checker.protocol, {}).items():
            shape = _shape_or_none(model, code)
            out.setdefault(code, (status, shape))
        if checker.protocol == "rest-json":
            for name in GENERIC_MODELED_SHAPES:
                shape = _shape_or_none(model, name)
                if shape is not None:
                    out.setdefault(
                        name, (shape.metadata.get("error", {}).get("httpStatusCode"), shape)
                    )
        return out

    def check_error(self, checker, label, op_model, status, headers, body):
        allowed = self.allowed_errors(checker, op_model)
        self.check_content_type(checker, label, headers)
        text = body.decode("utf-8", "replace")
        if checker.protocol == "rest-json":
            return self.check_json_error(checker, label, allowed, status, headers, text)
        return self.check_query_error(checker, label, op_model, allowed, status, text)

    def check_json_error(self, checker, label, allowed, status, headers, text):
        if not header(headers, "x-amzn-RequestId"):
            self.v.add(label, "(headers)", "x-amzn-RequestId", "absent")
        try:
            value = json.loads(text) if text.strip() else {}
        except ValueError:
            self.v.add(label, "$", "a JSON error body", _short(text))
            value = {}
        if not isinstance(value, dict):
            self.v.add(label, "$", "a JSON object", _short(value))
            value = {}
        from_header = header(headers, "x-amzn-ErrorType")
        from_body = value.get("__type") or value.get("code")
        # The SDKs drop a namespace before '#' and anything after ':'.
        sanitize = lambda c: c.split("#")[-1].split(":")[0] if isinstance(c, str) else None
        code = sanitize(from_header) or sanitize(from_body)
        if not code:
            self.v.add(
                label,
                "(error code)",
                "x-amzn-ErrorType header or __type/code in the body",
                "neither",
            )
            return None
        if from_header and from_body and sanitize(from_header) != sanitize(from_body):
            self.v.add(
                label,
                "(error code)",
                f"the same code in header and body ({sanitize(from_header)})",
                sanitize(from_body),
            )
        message = value.get("message", value.get("Message"))
        if not isinstance(message, str) or not message:
            self.v.add(
                label,
                "$.message",
                "a message string",
                _short(message) if message is not None else "absent",
            )
        if code not in allowed:
            self.v.add(label, "(error code)", f"one of {sorted(allowed)}", code)
            return code
        want_status, shape = allowed[code]
        if want_status is not None and status != want_status:
            self.v.add(label, "(status)", f"HTTP {want_status} for {code}", f"HTTP {status}")
        fields = {k: v for k, v in value.items() if k not in ("__type", "code")}
        if shape is not None:
            # Error shapes model `message`; the generic `Message` spelling is read by every SDK.
            if "Message" in fields and "Message" not in Checker.body_members(shape):
                fields["message"] = fields.pop("Message")
            checker.check_json(f"{label} {code}", "$", shape, fields)
        else:
            extra = sorted(set(fields) - {"message", "Message"})
            if extra:
                self.v.add(label, "$", f"only message for {code}", f"members {extra}")
        return code

    def check_query_error(self, checker, label, op_model, allowed, status, text):
        ns = op_model.service_model.metadata.get("xmlNamespace", "")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as e:
            self.v.add(label, "/", "an XML error body", f"{e}: {_short(text)}")
            return None
        root_ns, root_name = split_tag(root.tag)
        if root_name != "ErrorResponse":
            self.v.add(label, "/", "<ErrorResponse>", f"<{root_name}>")
            return None
        if root_ns not in ("", ns):
            self.v.add(label, "/ErrorResponse", f"namespace {ns!r}", repr(root_ns))
        error = None
        request_id = None
        for child in root:
            local = split_tag(child.tag)[1]
            if local == "Error" and error is None:
                error = child
            elif local == "RequestId" and request_id is None:
                request_id = child
            else:
                self.v.add(
                    label,
                    f"/ErrorResponse/{local}",
                    "one <Error> and one <RequestId>",
                    "unexpected element",
                )
        if request_id is None or not (request_id.text or "").strip():
            self.v.add(
                label, "/ErrorResponse/RequestId", "present (SDKs read the request id)", "absent"
            )
        if error is None:
            self.v.add(label, "/ErrorResponse/Error", "present", "absent")
            return None
        parts = {}
        for child in error:
            local = split_tag(child.tag)[1]
            if local in parts:
                self.v.add(
                    label, f"/ErrorResponse/Error/{local}", "one element", "repeated element"
                )
            parts[local] = child
        code = (parts["Code"].text or "").strip() if "Code" in parts else ""
        if not code:
            self.v.add(label, "/ErrorResponse/Error/Code", "an error code", "absent")
            return None
        message = parts.get("Message")
        if message is None or not (message.text or "").strip():
            self.v.add(label, "/ErrorResponse/Error/Message", "a message", "absent")
        kind = (parts["Type"].text or "").strip() if "Type" in parts else None
        want_kind = "Receiver" if status >= 500 else "Sender"
        if kind != want_kind:
            self.v.add(
                label,
                "/ErrorResponse/Error/Type",
                f"{want_kind} for HTTP {status}",
                kind or "absent",
            )
        if code not in allowed:
            self.v.add(label, "(error code)", f"one of {sorted(allowed)}", code)
            return code
        want_status, shape = allowed[code]
        if want_status is not None and status != want_status:
            self.v.add(label, "(status)", f"HTTP {want_status} for {code}", f"HTTP {status}")
        if (
            shape is not None
            and shape.metadata.get("error", {}).get("senderFault")
            and kind != "Sender"
        ):
            self.v.add(
                label, "/ErrorResponse/Error/Type", f"Sender ({shape.name} is a sender fault)", kind
            )
        members = {}
        if shape is not None:
            for name, member in shape.members.items():
                members[member.serialization.get("name", name)] = member
        for local, child in parts.items():
            if local in ("Type", "Code", "Message"):
                continue
            if local not in members:
                self.v.add(
                    label,
                    f"/ErrorResponse/Error/{local}",
                    f"Type, Code, Message or a member of {code}",
                    "unknown element",
                )
            else:
                checker.check_xml(
                    f"{label} {code}",
                    f"/ErrorResponse/Error/{local}",
                    members[local],
                    child,
                    root_ns,
                )
        return code


def _method(client, operation):
    for method, api in client.meta.method_to_api_mapping.items():
        if api == operation:
            return method
    raise SystemExit(
        f"botocore has no operation {operation} for {client.meta.service_model.service_name}"
    )


def _shape_or_none(model, name):
    from botocore.model import NoShapeFoundError

    try:
        return model.shape_for(name)
    except NoShapeFoundError:
        return None


def check_generic_table(session, violations):
    """Where a service model defines a generic error's shape, its status must be the table's."""
    for service, protocol in (("eks", "rest-json"), ("iam", "query"), ("sts", "query")):
        model = session.get_service_model(service)
        for code, status in GENERIC_ERRORS[protocol].items():
            shape = _shape_or_none(model, code)
            if shape is None:
                continue
            modeled = shape.metadata.get("error", {}).get("httpStatusCode")
            if modeled is not None and modeled != status:
                violations.add(
                    f"{service}:(GENERIC_ERRORS)",
                    code,
                    f"HTTP {modeled} (the model)",
                    f"HTTP {status} in the table",
                )


# ------------------------------------------------------------------------------------------------
# The sequence
# ------------------------------------------------------------------------------------------------

ACCOUNT = "111122223333"
CLUSTER = "prod"
FOREIGN_CLUSTER = "foreign"


def role(name, path="/"):
    return f"arn:aws:iam::{ACCOUNT}:role{path}{name}"


def policy(name):
    return f"arn:aws:eks::aws:cluster-access-policy/{name}"


def advance_clock(endpoint, seconds):
    """Completes running updates: the simulator's clock, not the wall clock (POST /_sim/…)."""
    url = f"{endpoint.rstrip('/')}/_sim/clock/advance?seconds={seconds}"
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def set_faults(endpoint, config):
    req = urllib.request.Request(
        f"{endpoint.rstrip('/')}/_sim/faults",
        data=json.dumps(config).encode(),
        method="PUT",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def pages(c, client, operation, key, token="nextToken", **params):
    """Every page of a list call (`token` names the request and response member); returns the
    items and the number of pages."""
    items, n, next_token = [], 0, None
    while True:
        args = dict(params, **({token: next_token} if next_token else {}))
        out = c.call(client, operation, **args)
        n += 1
        items.extend(out.get(key, []))
        next_token = out.get(token)
        if not next_token or n > 50:
            return items, n


def run(c, v, eks, iam, sts, endpoint, make_client):
    ok = c.call

    def fails(code, client, operation, **params):
        return c.call(client, operation, expect=code, **params)

    def paged(label, at_least, *args, **params):
        items, n = pages(c, *args, **params)
        if n < at_least:
            v.add(label, "(pagination)", f"at least {at_least} pages of the small page size", n)
        return items

    def same(label, what, want, got):
        if want != got:
            v.add(label, what, _short(want), _short(got))

    def mode(m):
        return {"authenticationMode": m}

    p = {"clusterName": CLUSTER}
    dev, viewers = role("developers", "/team/dev/"), role("viewers", "/team/")
    operators, auditors, batch = role("operators"), role("auditors"), role("batch-nodes")
    view, edit, admin_view = (
        policy(n)
        for n in ("AmazonEKSViewPolicy", "AmazonEKSEditPolicy", "AmazonEKSAdminViewPolicy")
    )
    cluster_scope = {"type": "cluster"}

    # ---- identity, clusters, node roles, IAM paths (what `plan` reads) ----
    me = ok(sts, "GetCallerIdentity")
    same("sts:GetCallerIdentity", "Account", ACCOUNT, me.get("Account"))
    clusters = paged("eks:ListClusters", 2, eks, "ListClusters", "clusters", maxResults=1)
    same("eks:ListClusters", "clusters", ["prod", "staging"], sorted(clusters))
    for name in clusters:
        ok(eks, "DescribeCluster", name=name)
    fails("ResourceNotFoundException", eks, "DescribeCluster", name="absent")
    fails("AccessDeniedException", eks, "DescribeCluster", name=FOREIGN_CLUSTER)
    groups = paged("eks:ListNodegroups", 2, eks, "ListNodegroups", "nodegroups", maxResults=2, **p)
    for g in groups:
        ok(eks, "DescribeNodegroup", nodegroupName=g, **p)
    fails("ResourceNotFoundException", eks, "DescribeNodegroup", nodegroupName="absent", **p)
    profiles = paged(
        "eks:ListFargateProfiles",
        2,
        eks,
        "ListFargateProfiles",
        "fargateProfileNames",
        maxResults=2,
        **p,
    )
    for name in profiles:
        ok(eks, "DescribeFargateProfile", fargateProfileName=name, **p)
    fails(
        "ResourceNotFoundException", eks, "DescribeFargateProfile", fargateProfileName="absent", **p
    )
    for name in ("developers", "viewers", "operators"):
        ok(iam, "GetRole", RoleName=name)
    fails("NoSuchEntity", iam, "GetRole", RoleName="absent")
    # A role ARN written with its path in aws-auth gives the tool a name IAM refuses.
    fails("ValidationError", iam, "GetRole", RoleName="team/dev/developers")
    ok(iam, "GetUser")
    fails("NoSuchEntity", iam, "GetUser", UserName="absent")
    paged("iam:ListRoles", 2, iam, "ListRoles", "Roles", token="Marker", MaxItems=4)

    # ---- access entries are refused in CONFIG_MAP ----
    fails("InvalidRequestException", eks, "ListAccessEntries", **p)
    fails("InvalidRequestException", eks, "CreateAccessEntry", principalArn=operators, **p)
    fails("InvalidRequestException", eks, "DescribeAccessEntry", principalArn=operators, **p)

    # ---- CONFIG_MAP -> API_AND_CONFIG_MAP, with the errors around it ----
    fails(
        "InvalidParameterException",
        eks,
        "UpdateClusterConfig",
        name=CLUSTER,
        accessConfig=mode("API"),
    )
    started = ok(eks, "UpdateClusterConfig", name=CLUSTER, accessConfig=mode("API_AND_CONFIG_MAP"))
    update_id = started.get("update", {}).get("id", "")
    fails(
        "ResourceInUseException", eks, "UpdateClusterConfig", name=CLUSTER, accessConfig=mode("API")
    )
    running = ok(eks, "DescribeUpdate", name=CLUSTER, updateId=update_id)
    same(
        "eks:DescribeUpdate", "update.status", "InProgress", running.get("update", {}).get("status")
    )
    advance_clock(endpoint, 601)
    done = ok(eks, "DescribeUpdate", name=CLUSTER, updateId=update_id)
    same("eks:DescribeUpdate", "update.status", "Successful", done.get("update", {}).get("status"))
    fails("ResourceNotFoundException", eks, "DescribeUpdate", name=CLUSTER, updateId="0" * 8)
    described = ok(eks, "DescribeCluster", name=CLUSTER).get("cluster", {})
    same(
        "eks:DescribeCluster",
        "cluster.accessConfig.authenticationMode",
        "API_AND_CONFIG_MAP",
        described.get("accessConfig", {}).get("authenticationMode"),
    )
    fails(
        "InvalidParameterException",
        eks,
        "UpdateClusterConfig",
        name=CLUSTER,
        accessConfig=mode("CONFIG_MAP"),
    )

    # ---- access entries ----
    ok(
        eks,
        "CreateAccessEntry",
        principalArn=dev,
        username="dev:{{SessionName}}",
        kubernetesGroups=["developers"],
        tags={"migrated-by": "aws-auth-migrate"},
        **p,
    )
    ok(eks, "CreateAccessEntry", principalArn=viewers, kubernetesGroups=["viewers"], **p)
    ok(eks, "CreateAccessEntry", principalArn=operators, **p)
    ok(eks, "CreateAccessEntry", principalArn=batch, type="EC2_LINUX", **p)
    fails("ResourceInUseException", eks, "CreateAccessEntry", principalArn=dev, **p)
    # The role's ARN without its path: "invalid principal".
    fails(
        "InvalidParameterException", eks, "CreateAccessEntry", principalArn=role("developers"), **p
    )
    fails(
        "InvalidParameterException",
        eks,
        "CreateAccessEntry",
        principalArn=auditors,
        kubernetesGroups=["system:masters"],
        **p,
    )
    fails("ResourceNotFoundException", eks, "ListAccessEntries", clusterName="absent")
    entries = paged(
        "eks:ListAccessEntries", 3, eks, "ListAccessEntries", "accessEntries", maxResults=2, **p
    )
    for arn in entries:
        ok(eks, "DescribeAccessEntry", principalArn=arn, **p)
    fails("ResourceNotFoundException", eks, "DescribeAccessEntry", principalArn=auditors, **p)
    ok(
        eks,
        "UpdateAccessEntry",
        principalArn=viewers,
        kubernetesGroups=["viewers", "auditors"],
        username="viewer:{{SessionName}}",
        **p,
    )
    fails(
        "ResourceNotFoundException",
        eks,
        "UpdateAccessEntry",
        principalArn=auditors,
        kubernetesGroups=["a"],
        **p,
    )
    fails(
        "InvalidParameterException",
        eks,
        "UpdateAccessEntry",
        principalArn=batch,
        kubernetesGroups=["a"],
        **p,
    )

    # ---- access policies ----
    paged("eks:ListAccessPolicies", 2, eks, "ListAccessPolicies", "accessPolicies", maxResults=10)
    namespaces = {"type": "namespace", "namespaces": ["apps", "monitoring"]}
    ok(eks, "AssociateAccessPolicy", principalArn=dev, policyArn=edit, accessScope=namespaces, **p)
    ok(
        eks,
        "AssociateAccessPolicy",
        principalArn=dev,
        policyArn=view,
        accessScope=cluster_scope,
        **p,
    )
    ok(
        eks,
        "AssociateAccessPolicy",
        principalArn=dev,
        policyArn=admin_view,
        accessScope=cluster_scope,
        **p,
    )
    fails(
        "ResourceNotFoundException",
        eks,
        "AssociateAccessPolicy",
        principalArn=auditors,
        policyArn=view,
        accessScope=cluster_scope,
        **p,
    )
    fails(
        "InvalidParameterException",
        eks,
        "AssociateAccessPolicy",
        principalArn=dev,
        policyArn=policy("AmazonEKSNoSuchPolicy"),
        accessScope=cluster_scope,
        **p,
    )
    paged(
        "eks:ListAssociatedAccessPolicies",
        2,
        eks,
        "ListAssociatedAccessPolicies",
        "associatedAccessPolicies",
        principalArn=dev,
        maxResults=2,
        **p,
    )
    filtered, _ = pages(c, eks, "ListAccessEntries", "accessEntries", associatedPolicyArn=view, **p)
    same("eks:ListAccessEntries", "accessEntries (associatedPolicyArn)", [dev], filtered)
    fails(
        "ResourceNotFoundException", eks, "ListAssociatedAccessPolicies", principalArn=auditors, **p
    )
    ok(eks, "DisassociateAccessPolicy", principalArn=dev, policyArn=admin_view, **p)
    fails(
        "ResourceNotFoundException",
        eks,
        "DisassociateAccessPolicy",
        principalArn=auditors,
        policyArn=view,
        **p,
    )

    # ---- tags on the cluster and on an access entry ----
    entry = ok(eks, "DescribeAccessEntry", principalArn=dev, **p).get("accessEntry", {})
    for arn in (described.get("arn", ""), entry.get("accessEntryArn", "")):
        ok(eks, "TagResource", resourceArn=arn, tags={"team": "platform"})
        ok(eks, "ListTagsForResource", resourceArn=arn)
        ok(eks, "UntagResource", resourceArn=arn, tagKeys=["team"])
    absent_arn = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/absent"
    fails("NotFoundException", eks, "ListTagsForResource", resourceArn=absent_arn)
    fails(
        "BadRequestException",
        eks,
        "TagResource",
        resourceArn="arn:aws:s3:::not-eks",
        tags={"a": "b"},
    )

    # ---- STS AssumeRole (--role-arn, parity --probe-as) and the assumed identity ----
    session = "aws-auth-migrate"
    assumed = ok(sts, "AssumeRole", RoleArn=role("migrator"), RoleSessionName=session)
    fails("AccessDenied", sts, "AssumeRole", RoleArn=role("locked"), RoleSessionName=session)
    fails("ValidationError", sts, "AssumeRole", RoleArn=role("migrator"), RoleSessionName="a b")
    creds = assumed.get("Credentials", {})
    if creds:
        sts_as_role = c.wire(make_client("sts", creds))
        eks_as_role = c.wire(make_client("eks", creds))
        ok(sts_as_role, "GetCallerIdentity")
        ok(eks_as_role, "DescribeCluster", name=CLUSTER)

    # ---- deletes ----
    ok(eks, "DeleteAccessEntry", principalArn=operators, **p)
    fails("ResourceNotFoundException", eks, "DeleteAccessEntry", principalArn=operators, **p)

    # ---- API_AND_CONFIG_MAP -> API; ListUpdates pages over both updates ----
    second = ok(eks, "UpdateClusterConfig", name=CLUSTER, accessConfig=mode("API"))
    advance_clock(endpoint, 601)
    ok(eks, "DescribeUpdate", name=CLUSTER, updateId=second.get("update", {}).get("id", ""))
    paged("eks:ListUpdates", 2, eks, "ListUpdates", "updateIds", name=CLUSTER, maxResults=1)
    fails("ResourceNotFoundException", eks, "ListUpdates", name="absent")
    fails(
        "InvalidParameterException",
        eks,
        "UpdateClusterConfig",
        name=CLUSTER,
        accessConfig=mode("API_AND_CONFIG_MAP"),
    )

    # ---- a failed update reports its errors (the tool prints them) ----
    set_faults(endpoint, {"updateFailureRate": 1.0})
    failing = ok(eks, "UpdateClusterConfig", name="staging", accessConfig=mode("API"))
    set_faults(endpoint, {})
    advance_clock(endpoint, 601)
    failing_id = failing.get("update", {}).get("id", "")
    failed = ok(eks, "DescribeUpdate", name="staging", updateId=failing_id).get("update", {})
    same("eks:DescribeUpdate", "update.status (injected failure)", "Failed", failed.get("status"))
    if not failed.get("errors"):
        v.add("eks:DescribeUpdate", "update.errors (injected failure)", "the errors", "none")

    # ---- errors the SDKs retry: throttling and 5xx, as the simulator injects them ----
    set_faults(endpoint, {"throttle": {"ratePerSec": 0.001, "burst": 0}})
    fails("ThrottlingException", eks, "DescribeCluster", name=CLUSTER)
    fails("Throttling", iam, "GetRole", RoleName="developers")
    failing_ops = ["eks:ListAccessEntries", "iam:GetRole", "sts:GetCallerIdentity"]
    set_faults(endpoint, {"serverErrorRate": 1.0, "operations": failing_ops})
    for _ in range(3):
        fails(("ServerException", "ServiceUnavailableException"), eks, "ListAccessEntries", **p)
        fails(("InternalFailure", "ServiceUnavailable"), iam, "GetRole", RoleName="developers")
        fails(("InternalFailure", "ServiceUnavailable"), sts, "GetCallerIdentity")
    set_faults(endpoint, {})

    # ---- expired session credentials (the assumed role's, an hour later) ----
    if creds:
        advance_clock(endpoint, 3601)
        fails("ExpiredToken", sts_as_role, "GetCallerIdentity")
        fails("ExpiredTokenException", eks_as_role, "DescribeCluster", name=CLUSTER)


# ------------------------------------------------------------------------------------------------
# Self-test: the checks find what they are meant to find
# ------------------------------------------------------------------------------------------------

GOOD_ENTRY = {
    "clusterName": "prod",
    "principalArn": "arn:aws:iam::111122223333:role/dev",
    "kubernetesGroups": ["developers"],
    "accessEntryArn": "arn:aws:eks:us-east-1:111122223333:access-entry/prod/role/111122223333/x/1",
    "createdAt": 1700000000.5,
    "modifiedAt": 1700000000.5,
    "tags": {},
    "username": "dev:{{SessionName}}",
    "type": "STANDARD",
}
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
GOOD_ROLE = (
    "<Path>/</Path><RoleName>dev</RoleName><RoleId>AROAEXAMPLEEXAMPLE01</RoleId>"
    "<Arn>arn:aws:iam::111122223333:role/dev</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate>"
)
JSON_HEADERS = {"content-type": "application/json", "x-amzn-RequestId": "r"}
XML_HEADERS = {"content-type": "text/xml"}


def _entry(**changes):
    return {"accessEntry": {**GOOD_ENTRY, **changes}}


def _eks_error(code, message="m", **extra):
    headers = {**JSON_HEADERS, "x-amzn-ErrorType": code} if code else JSON_HEADERS
    return headers, {**({"message": message} if message else {}), **extra}


def _role(replace=None, by="", metadata=True):
    role = GOOD_ROLE.replace(replace, by) if replace else GOOD_ROLE
    meta = "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>" if metadata else ""
    result = f"<GetRoleResult><Role>{role}</Role></GetRoleResult>"
    return f'<GetRoleResponse xmlns="{IAM_NS}">{result}{meta}</GetRoleResponse>'


def _iam_error(code, kind="Sender"):
    error = f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>m</Message></Error>"
    return f'<ErrorResponse xmlns="{IAM_NS}">{error}<RequestId>r</RequestId></ErrorResponse>'


ROLE_ID = "<RoleId>AROAEXAMPLEEXAMPLE01</RoleId>"
ENTRY = "DescribeAccessEntry"
NOT_FOUND = "ResourceNotFoundException"

# (service, operation, status, headers, body, a substring of the violation expected, or None for
# no violation at all).
# fmt: off
SELF_TEST_CASES = (
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(), None),
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(principalARN="x"), "$.accessEntry.principalARN: expected a member of"),
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(createdAt="2024-01-01T00:00:00Z"), "$.accessEntry.createdAt: expected timestamp"),
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(kubernetesGroups="developers"), "$.accessEntry.kubernetesGroups: expected array"),
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(username=None), "$.accessEntry.username: expected string"),
    ("eks", ENTRY, 200, JSON_HEADERS, _entry(tags={"k": 1}), "$.accessEntry.tags['k']: expected string"),
    ("eks", ENTRY, 201, JSON_HEADERS, _entry(), "(status): expected HTTP 200"),
    ("eks", ENTRY, 200, {"content-type": "application/json"}, _entry(), "(headers): expected x-amzn-RequestId"),
    ("eks", "DescribeCluster", 200, JSON_HEADERS, {"cluster": {"accessConfig": {"authenticationMode": "CONFIGMAP"}}},
     "$.cluster.accessConfig.authenticationMode: expected one of AuthenticationMode"),
    ("eks", "DescribeCluster", 200, JSON_HEADERS,
     {"cluster": {"accessConfig": {"bootstrapClusterCreatorAdminPermissions": "true"}}}, "expected boolean"),
    ("eks", "ListAccessPolicies", 200, JSON_HEADERS, {"accessPolicies": [{"name": "p", "scope": "cluster"}]},
     "$.accessPolicies[0].scope: expected a member of AccessPolicy"),
    ("eks", ENTRY, 404, *_eks_error(NOT_FOUND), None),
    ("eks", ENTRY, 409, *_eks_error("ResourceInUseException"), "(error code): expected one of"),
    ("eks", ENTRY, 400, *_eks_error(NOT_FOUND), "(status): expected HTTP 404"),
    ("eks", ENTRY, 404, *_eks_error(NOT_FOUND, message=None), "$.message: expected a message string"),
    ("eks", ENTRY, 404, *_eks_error(None), "(error code): expected x-amzn-ErrorType header or __type/code"),
    ("eks", ENTRY, 404, *_eks_error(NOT_FOUND, reason="x"), "$.reason: expected a member of ResourceNotFoundException"),
    ("iam", "GetRole", 200, XML_HEADERS, _role(), None),
    ("iam", "GetRole", 200, XML_HEADERS, _role(ROLE_ID), "/Role/RoleId: expected required member of Role"),
    ("iam", "GetRole", 200, XML_HEADERS, _role("2024-01-01T00:00:00Z", "1704067200"), "/Role/CreateDate: expected timestamp"),
    ("iam", "GetRole", 200, XML_HEADERS, _role(ROLE_ID, ROLE_ID + "<Owner>me</Owner>"), "/Role/Owner: expected a member of Role"),
    ("iam", "GetRole", 200, XML_HEADERS, _role(metadata=False), "ResponseMetadata/RequestId: expected present"),
    ("iam", "GetRole", 200, XML_HEADERS, _role(ROLE_ID, "<RoleId>AROA-1</RoleId>"), "/Role/RoleId: expected idType of at least 16"),
    ("iam", "GetRole", 200, {"content-type": "application/json"}, _role(), "(headers): expected content-type text/xml"),
    ("iam", "GetRole", 404, XML_HEADERS, _iam_error("NoSuchEntity"), None),
    ("iam", "GetRole", 400, XML_HEADERS, _iam_error("NoSuchEntity"), "(status): expected HTTP 404"),
    ("iam", "GetRole", 400, XML_HEADERS, _iam_error("InvalidInput"), "(error code): expected one of"),
    ("iam", "GetRole", 404, XML_HEADERS, _iam_error(""), "/ErrorResponse/Error/Code: expected an error code"),
    ("iam", "GetRole", 404, XML_HEADERS, _iam_error("NoSuchEntity", kind="Receiver"), "/ErrorResponse/Error/Type: expected Sender"),
)
# fmt: on


def self_test(session):
    """Runs the checks on SELF_TEST_CASES; returns the cases whose outcome was not the expected one."""
    failures = []
    for service, operation, status, headers, body, expected in SELF_TEST_CASES:
        violations = Violations()
        c = Conformance(session, violations)
        op_model = session.get_service_model(service).operation_model(operation)
        raw = (json.dumps(body) if isinstance(body, dict) else body).encode()
        checker = c.checker(op_model.service_model)
        label = f"{service}:{operation}"
        if status < 300:
            c.check_success(checker, label, op_model, status, headers, raw)
        else:
            c.check_error(checker, label, op_model, status, headers, raw)
        lines = [
            f"{op} {path}: expected {want}, found {found}"
            for op, path, want, found in violations.items
        ]
        if expected is None and lines:
            failures.append(f"{label} {_short(body)}: expected no violation, got {lines}")
        elif expected is not None and not any(expected in line for line in lines):
            failures.append(
                f"{label} {_short(body)}: expected a violation containing {expected!r}, got {lines}"
            )
    return failures


def main(argv):
    if "--list-operations" in argv:
        for op in TOOL_OPERATIONS + OTHER_OPERATIONS:
            print(op)
        return 0
    try:
        import botocore.session
        from botocore.config import Config
    except ImportError as e:
        sys.stderr.write(f"botocore is needed (pip install -r .ci/requirements.txt): {e}\n")
        return 2
    if "--self-test" in argv:
        failures = self_test(botocore.session.get_session())
        for f in failures:
            sys.stdout.write(f"self-test: {f}\n")
        if failures:
            return 1
        sys.stdout.write(f"self-test: {len(SELF_TEST_CASES)} cases, each found as expected\n")
        return 0
    endpoint = os.environ.get("AWS_ENDPOINT_URL_EKS") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    missing = [
        n
        for n, val in (
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", region),
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
        )
        if not val
    ]
    if missing:
        sys.stderr.write(f"set {', '.join(missing)} (the environment `eks-sim serve` prints)\n")
        return 2
    host = urllib.parse.urlparse(endpoint).hostname
    if host != "127.0.0.1":
        sys.stderr.write(
            f"refusing endpoint {endpoint}: this check drives the simulator on 127.0.0.1 only\n"
        )
        return 2

    started = time.monotonic()
    session = botocore.session.get_session()
    # One attempt: a retried call would hide the response being checked.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)

    def make_client(service, creds=None):
        creds = creds or {"AccessKeyId": key, "SecretAccessKey": secret}
        return session.create_client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=config,
        )

    violations = Violations()
    check_generic_table(session, violations)
    c = Conformance(session, violations)
    eks, iam, sts = (c.wire(make_client(s)) for s in ("eks", "iam", "sts"))
    try:
        run(c, violations, eks, iam, sts, endpoint, make_client)
    except (urllib.error.URLError, OSError) as e:
        violations.add("(simulator)", endpoint, "reachable", str(e))
    for op in TOOL_OPERATIONS + OTHER_OPERATIONS:
        if op not in c.succeeded:
            violations.add(op, "(coverage)", "at least one checked success", "none")
    skipped = set()
    for checker in c.checkers.values():
        skipped |= checker.patterns_skipped
    elapsed = time.monotonic() - started
    if violations.items:
        sys.stdout.write(
            f"{len(violations.items)} violation(s) of the botocore {botocore.__version__} models:\n"
        )
        violations.report(sys.stdout)
        return 1
    summary = (
        f"conformance: {c.calls} calls ({len(c.succeeded)} operations, "
        f"{len(c.errors_seen)} operation/error pairs) match the botocore "
        f"{botocore.__version__} models in {elapsed:.2f}s"
    )
    if skipped:
        summary += f"; {len(skipped)} model pattern(s) Python cannot express were not checked"
    sys.stdout.write(summary + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
