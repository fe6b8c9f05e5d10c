"""Checks fangyi's OpenAPI document with standard tools, against a running server.

1. Validates the document with openapi-spec-validator (the OpenAPI version it declares).
2. Generates a Python client from it with openapi-python-client, refusing any warning (its
   settings, in client-config.yaml, only tell it that a text/csv upload is raw bytes).
3. Uses that generated client, and nothing else, against the server: a password login, a
   health-code lookup with the session token, and a file upload.

Prints one JSON object on stdout with what the client got back; diagnostics go to stderr and a
failed step exits 1.

Usage:
  python3 check.py --doc URL|FILE --base http://127.0.0.1:PORT --work DIR
                   --user NAME --password PW --person ID
                   --upload-kind KIND --upload FILE.csv
(run with the virtual environment setup.sh makes).
"""
import argparse
import importlib
import io
import json
import os
import pathlib
import subprocess
import sys


def fail(step: str, detail: str) -> None:
    print(f"check.py: {step}: {detail}", file=sys.stderr)
    sys.exit(1)


def validate(doc: dict) -> None:
    from openapi_spec_validator.shortcuts import get_validator_cls

    cls = get_validator_cls(doc)
    errors = list(cls(doc).iter_errors())
    if errors:
        shown = "\n".join(
            f"- {'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in errors[:30]
        )
        fail("validation", f"{len(errors)} errors ({cls.__name__}):\n{shown}")
    print(f"check.py: valid ({cls.__name__})", file=sys.stderr)


def generate(doc_path: pathlib.Path, work: pathlib.Path) -> pathlib.Path:
    out = work / "client"
    bin_dir = pathlib.Path(sys.executable).parent
    tool = bin_dir / "openapi-python-client"
    config = pathlib.Path(__file__).with_name("client-config.yaml")
    # The generator formats its output with ruff, installed beside it.
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        [
            str(tool),
            "generate",
            "--path",
            str(doc_path),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--overwrite",
            "--fail-on-warning",
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if run.returncode != 0:
        fail("client generation", run.stdout + run.stderr)
    return out


def operation(package: str, root: pathlib.Path, operation_id: str):
    """The generated module of an operation, wherever its tag put it."""
    found = [p for p in (root / "api").rglob(f"{operation_id}.py")]
    if len(found) != 1:
        fail("client", f"expected one generated module for operation {operation_id}, found {found}")
    rel = found[0].relative_to(root.parent).with_suffix("")
    return importlib.import_module(".".join(rel.parts))


def exercise(client_dir: pathlib.Path, args: argparse.Namespace, doc: dict) -> dict:
    sys.path.insert(0, str(client_dir.parent))
    package = client_dir.name
    client_mod = importlib.import_module(f"{package}.client")
    models = importlib.import_module(f"{package}.models")
    types = importlib.import_module(f"{package}.types")

    def op_id(method: str, path: str) -> str:
        return doc["paths"][path][method]["operationId"]

    base = args.base.rstrip("/") + "/api/v1"
    anonymous = client_mod.Client(base_url=base, raise_on_unexpected_status=True)
    login = operation(package, client_dir, op_id("post", "/login"))
    answer = login.sync(
        client=anonymous,
        body=models.LoginRequest(name=args.user, password=args.password),
    )
    if answer is None or not getattr(answer, "token", ""):
        fail("login", f"no token in {answer!r}")
    token = answer.token

    def authed(purpose: str):
        return client_mod.AuthenticatedClient(
            base_url=base,
            token=token,
            headers={"X-Purpose": purpose},
            raise_on_unexpected_status=True,
        )

    code_op = operation(package, client_dir, op_id("get", "/persons/{id}/code"))
    code = code_op.sync(id=args.person, client=authed("health_code"), as_of="2020-01-25")
    if code is None or not hasattr(code, "color"):
        fail("health code", f"unexpected answer {code!r}")

    upload_op = operation(package, client_dir, op_id("post", "/ingest/{kind}"))
    upload = pathlib.Path(args.upload)
    body = types.File(payload=io.BytesIO(upload.read_bytes()), file_name=upload.name)
    ingested = upload_op.sync(kind=args.upload_kind, client=authed("data_management"), body=body)
    if ingested is None or not hasattr(ingested, "rows_accepted"):
        fail("upload", f"unexpected answer {ingested!r}")

    return {
        "login_role": answer.account.role,
        "token_prefix": token[:4],
        "code": code.to_dict(),
        "upload": ingested.to_dict(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--person", required=True)
    ap.add_argument("--upload-kind", required=True)
    ap.add_argument("--upload", required=True)
    args = ap.parse_args()
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.doc.startswith(("http://", "https://")):
        import httpx

        served = httpx.get(args.doc)
        if served.status_code != 200:
            fail("fetching the document", f"{args.doc}: HTTP {served.status_code}")
        doc_path = work / "openapi.json"
        doc_path.write_bytes(served.content)
    else:
        doc_path = pathlib.Path(args.doc)
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    validate(doc)
    client_dir = generate(doc_path, work)
    print(json.dumps(exercise(client_dir, args, doc)))


if __name__ == "__main__":
    main()
