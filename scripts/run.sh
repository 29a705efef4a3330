#!/usr/bin/env bash
# Quick start: a local SeaweedFS holding a demo bucket, and multistore-server in front of it on
# http://127.0.0.1:8080 (PORT overrides). Public bucket `demo` (anonymous reads), private bucket
# `private` with the local key AKIDEMO / demo-secret. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
ensure_venv
PORT="${PORT:-8080}"
DEMO="$CACHE/demo"
mkdir -p "$DEMO/data"

phase "building multistore-server (release)"
cargo build --release --locked -p multistore-server
BIN="$(target_dir)/release/multistore-server"

cat > "$DEMO/identities.json" <<'JSON'
{"identities":[{"name":"admin","credentials":[{"accessKey":"DEMOBACKENDKEY","secretKey":"DEMOBACKENDSECRET"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
S3P=$(free_port)
phase "starting SeaweedFS on 127.0.0.1:$S3P"
weed mini -dir="$DEMO/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.port="$S3P" \
  -master.port="$(free_port)" -volume.port="$(free_port)" -filer.port="$(free_port)" \
  -webdav.port="$(free_port)" -admin.ui=false -s3.config="$DEMO/identities.json" > "$DEMO/weed.log" 2>&1 &
WEED=$!
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  kill "$WEED" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 - "$S3P" <<'PY'
import sys, time, boto3
from botocore.config import Config
c = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", aws_access_key_id="DEMOBACKENDKEY",
                 aws_secret_access_key="DEMOBACKENDSECRET", region_name="us-east-1",
                 config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
for _ in range(120):
    try:
        c.create_bucket(Bucket="demo-backend")
        break
    except Exception:
        time.sleep(0.5)
c.put_object(Bucket="demo-backend", Key="public/hello.txt", Body=b"Hello from multistore!\n")
c.put_object(Bucket="demo-backend", Key="private/secret.txt", Body=b"only for AKIDEMO\n")
PY

cat > "$DEMO/config.toml" <<TOML
[[buckets]]
name = "demo"
backend_type = "s3"
anonymous_access = true
backend_prefix = "public/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:$S3P"
bucket_name = "demo-backend"
region = "us-east-1"
access_key_id = "DEMOBACKENDKEY"
secret_access_key = "DEMOBACKENDSECRET"

[[buckets]]
name = "private"
backend_type = "s3"
backend_prefix = "private/"
[buckets.backend_options]
endpoint = "http://127.0.0.1:$S3P"
bucket_name = "demo-backend"
region = "us-east-1"
access_key_id = "DEMOBACKENDKEY"
secret_access_key = "DEMOBACKENDSECRET"

[[credentials]]
access_key_id = "AKIDEMO"
secret_access_key = "demo-secret"
principal_name = "demo"
[[credentials.allowed_scopes]]
bucket = "*"
prefixes = []
actions = ["get_object", "head_object", "put_object", "delete_object", "list_bucket",
           "create_multipart_upload", "upload_part", "complete_multipart_upload",
           "abort_multipart_upload", "list_multipart_upload_parts", "list_bucket_multipart_uploads"]
TOML

phase "multistore-server on http://127.0.0.1:$PORT  (try: aws s3 ls --endpoint-url http://127.0.0.1:$PORT s3://demo/ --no-sign-request)"
"$BIN" --config "$DEMO/config.toml" --listen "127.0.0.1:$PORT" &
SERVER=$!
wait "$SERVER"
