"""Path mapping (`[path_mapping]`): `/{account}/{product}/{key}` served from the config bucket
`account:product`, the Source Cooperative layout. A second gateway of the same runtime runs with
a mapping config; clients use bucket `acme` and keys `{product}/{key}`."""
import hashlib
import json
import os
import subprocess
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import (ALL_ACTIONS, KEYS, SESSION_TOKEN_KEY, SW_KEY, SW_SECRET, BACKEND_BUCKETS,
                      Proc, WorkerRuntime, boto, free_port, server_binary, toml_dump, wait_http)
from helpers import assert_client_error, assert_request_id, assert_s3_error
from sigv4 import sign

DOMAIN = "s3.worker.test"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def mapped_config(seaweed, run):
    def bucket(name, backend, prefix, **extra):
        b = {"name": name, "backend_type": "s3", "backend_prefix": f"pm-{run}/{prefix}",
             "backend_options": {"endpoint": seaweed.endpoint, "bucket_name": BACKEND_BUCKETS[backend],
                                 "region": "us-east-1", "access_key_id": SW_KEY,
                                 "secret_access_key": SW_SECRET}}
        b.update(extra)
        return b

    admin_key, admin_secret = KEYS["admin"]
    reader_key, reader_secret = KEYS["reader"]
    return {
        "path_mapping": {"segments": 2, "separator": ":"},
        "buckets": [
            bucket("acme:data", "private", "data/"),
            bucket("acme:maps", "private", "maps/"),
            bucket("acme:open", "public", "open/", anonymous_access=True),
            bucket("zeta:x", "private", "zeta/"),
            # A plain bucket beside the mapped ones stays plain.
            bucket("plain", "public", "plain/"),
        ],
        "credentials": [
            {"access_key_id": admin_key, "secret_access_key": admin_secret, "principal_name": "admin",
             "enabled": True, "allowed_scopes": [{"bucket": "*", "prefixes": [], "actions": ALL_ACTIONS}]},
            {"access_key_id": reader_key, "secret_access_key": reader_secret, "principal_name": "reader",
             "enabled": True, "allowed_scopes": [{"bucket": "acme:data", "prefixes": [],
                                                  "actions": ["get_object", "head_object", "list_bucket"]}]},
        ],
    }


@pytest.fixture(scope="module")
def mapped(gateway, seaweed, workdir):
    """A second gateway of the runtime under test, with path mapping on."""
    if gateway.runtime == "external":
        pytest.skip("needs its own gateway with a path-mapping config")
    run = gateway.runtime
    cfg = mapped_config(seaweed, run)
    if run == "worker":
        worker = WorkerRuntime(workdir, name="worker-pathmap")
        worker.put_config(json.dumps(cfg))
        proc, endpoint = worker.start()
    else:
        path = workdir / "pathmap.toml"
        path.write_text('[path_mapping]\nsegments = 2\nseparator = ":"\n\n' + toml_dump(cfg))
        port = free_port()
        env = dict(os.environ, RUST_LOG="multistore=debug", SESSION_TOKEN_KEY=SESSION_TOKEN_KEY)
        proc = Proc([server_binary(), "--config", str(path), "--listen", f"127.0.0.1:{port}",
                     "--domain", DOMAIN], workdir / "gateway-pathmap.log", env=env)
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint + "/", proc, timeout=30)
    try:
        yield endpoint
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def admin(mapped):
    return boto(mapped, *KEYS["admin"])


@pytest.fixture(scope="module")
def tag():
    return uuid.uuid4().hex[:8]


def keys_of(pages):
    return [o["Key"] for p in pages for o in p.get("Contents", [])]


def test_put_get_head_and_the_object_lands_in_the_product_bucket(admin, backend, gateway, tag):
    key = f"data/{tag}/a b+c=ü.txt"
    admin.put_object(Bucket="acme", Key=key, Body=b"mapped!", Metadata={"team": "geo"})
    got = admin.get_object(Bucket="acme", Key=key)
    assert got["Body"].read() == b"mapped!"
    assert got["Metadata"] == {"team": "geo"}
    assert admin.head_object(Bucket="acme", Key=key)["ContentLength"] == 7
    # Stored in the config bucket's backend, under its prefix, without the product segment.
    raw = backend.get_object(Bucket="bk-private", Key=f"pm-{gateway.runtime}/data/{tag}/a b+c=ü.txt")
    assert raw["Body"].read() == b"mapped!"


def test_listings_v1_and_v2_name_the_account_and_keys_carry_the_product(admin, tag):
    for i in range(7):
        admin.put_object(Bucket="acme", Key=f"data/{tag}/list/k{i}", Body=b"x")
    admin.put_object(Bucket="acme", Key=f"data/{tag}/list/sub/deep", Body=b"x")
    prefix = f"data/{tag}/list/"
    v2 = admin.list_objects_v2(Bucket="acme", Prefix=prefix, Delimiter="/")
    assert v2["Name"] == "acme" and v2["Prefix"] == prefix
    assert [o["Key"] for o in v2["Contents"]] == [f"{prefix}k{i}" for i in range(7)]
    assert [p["Prefix"] for p in v2["CommonPrefixes"]] == [f"{prefix}sub/"]
    v1 = admin.list_objects(Bucket="acme", Prefix=prefix, Delimiter="/")
    assert v1["Name"] == "acme" and [o["Key"] for o in v1["Contents"]] == [o["Key"] for o in v2["Contents"]]
    # Pagination with small pages, both versions, through boto3's paginators.
    for op, token in (("list_objects_v2", "ContinuationToken"), ("list_objects", "Marker")):
        pages = list(admin.get_paginator(op).paginate(Bucket="acme", Prefix=prefix,
                                                      PaginationConfig={"PageSize": 3}))
        assert len(pages) == 3, op
        assert keys_of(pages) == [f"{prefix}k{i}" for i in range(7)] + [f"{prefix}sub/deep"], op
    # StartAfter inside the product, and one past every key of it.
    after = admin.list_objects_v2(Bucket="acme", Prefix=prefix, StartAfter=f"{prefix}k4")
    assert [o["Key"] for o in after["Contents"]][0] == f"{prefix}k5"
    assert after["StartAfter"] == f"{prefix}k4"
    assert admin.list_objects_v2(Bucket="acme", Prefix=prefix, StartAfter="zzz")["KeyCount"] == 0
    # encoding-type=url: the product is encoded with the rest of the key (boto3 leaves keys
    # encoded when the caller asked for it).
    admin.put_object(Bucket="acme", Key=f"{prefix}sp ace+ü", Body=b"x")
    enc = admin.list_objects_v2(Bucket="acme", Prefix=prefix, EncodingType="url")
    assert enc["EncodingType"] == "url"
    assert f"{prefix}sp+ace%2B%C3%BC" in [o["Key"] for o in enc["Contents"]]
    assert f"{prefix}sp ace+ü" in [urllib.parse.unquote_plus(o["Key"]) for o in enc["Contents"]]


def test_the_account_lists_its_products_and_the_caller_sees_only_its_own(admin, mapped):
    top = admin.list_objects_v2(Bucket="acme", Delimiter="/")
    assert top["Name"] == "acme" and top.get("KeyCount") == 3
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/", "maps/", "open/"]
    pages = list(admin.get_paginator("list_objects_v2").paginate(
        Bucket="acme", Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [p["Prefix"] for pg in pages for p in pg["CommonPrefixes"]] == ["data/", "maps/", "open/"]
    part = admin.list_objects(Bucket="acme", Delimiter="/", Prefix="ma")
    assert [p["Prefix"] for p in part["CommonPrefixes"]] == ["maps/"]
    reader = boto(mapped, *KEYS["reader"])
    assert [p["Prefix"] for p in reader.list_objects_v2(Bucket="acme", Delimiter="/")["CommonPrefixes"]] \
        == ["data/", "open/"]
    anon = boto(mapped)
    assert [p["Prefix"] for p in anon.list_objects_v2(Bucket="acme", Delimiter="/")["CommonPrefixes"]] \
        == ["open/"]
    assert anon.head_bucket(Bucket="acme")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert_client_error(anon.head_bucket, 403, "403", Bucket="zeta")
    # ListBuckets shows accounts beside plain buckets.
    assert sorted(b["Name"] for b in admin.list_buckets()["Buckets"]) == ["acme", "plain", "zeta"]
    assert [b["Name"] for b in reader.list_buckets()["Buckets"]] == ["acme"]


def test_authorization_follows_the_config_bucket(mapped, admin, tag):
    admin.put_object(Bucket="acme", Key=f"maps/{tag}/m", Body=b"m")
    admin.put_object(Bucket="acme", Key=f"open/{tag}/o", Body=b"o")
    reader = boto(mapped, *KEYS["reader"])
    anon = boto(mapped)
    assert_client_error(reader.get_object, 403, "AccessDenied", Bucket="acme", Key=f"maps/{tag}/m")
    assert_client_error(reader.put_object, 403, "AccessDenied", Bucket="acme", Key=f"data/{tag}/no", Body=b"")
    assert anon.get_object(Bucket="acme", Key=f"open/{tag}/o")["Body"].read() == b"o"
    assert_client_error(anon.get_object, 403, "AccessDenied", Bucket="acme", Key=f"maps/{tag}/m")


def test_an_unknown_product_is_no_such_bucket_naming_the_clients_path(mapped, admin):
    r = assert_client_error(admin.get_object, 404, "NoSuchBucket", Bucket="acme", Key="nope/k.txt")
    assert "acme/nope" in r["Error"]["Message"] and "acme:nope" not in r["Error"]["Message"]
    resp = requests.get(f"{mapped}/acme/nope/k.txt")
    root = assert_s3_error(resp, 404, "NoSuchBucket")
    assert root.findtext("Resource") == "/acme/nope/k.txt"
    assert_client_error(admin.list_objects_v2, 404, "NoSuchBucket", Bucket="acme", Prefix="nope/")
    assert_client_error(admin.get_object, 404, "NoSuchBucket", Bucket="unknown", Key="x/y")


def test_plain_buckets_stay_plain(admin):
    admin.put_object(Bucket="plain", Key="p.txt", Body=b"plain")
    assert admin.get_object(Bucket="plain", Key="p.txt")["Body"].read() == b"plain"
    assert admin.list_objects_v2(Bucket="plain")["Name"] == "plain"


def test_multipart_documents_name_the_clients_bucket_and_key(admin, tag):
    key = f"data/{tag}/multi.bin"
    part = os.urandom(5 << 20)
    up = admin.create_multipart_upload(Bucket="acme", Key=key)
    assert (up["Bucket"], up["Key"]) == ("acme", key)
    uid = up["UploadId"]
    e1 = admin.upload_part(Bucket="acme", Key=key, UploadId=uid, PartNumber=1, Body=part)["ETag"]
    e2 = admin.upload_part(Bucket="acme", Key=key, UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
    parts = admin.list_parts(Bucket="acme", Key=key, UploadId=uid)
    assert (parts["Bucket"], parts["Key"]) == ("acme", key)
    uploads = admin.list_multipart_uploads(Bucket="acme", Prefix=f"data/{tag}/")
    assert [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])] == [(key, uid)]
    done = admin.complete_multipart_upload(Bucket="acme", Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert (done["Bucket"], done["Key"]) == ("acme", key)
    body = admin.get_object(Bucket="acme", Key=key)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(part + b"tail").digest()


def test_copy_between_products_and_upload_part_copy(admin, tag):
    src = f"data/{tag}/copy-src.txt"
    admin.put_object(Bucket="acme", Key=src, Body=b"0123456789" * 600_000)
    admin.copy_object(Bucket="acme", Key=f"maps/{tag}/copied.txt", CopySource={"Bucket": "acme", "Key": src})
    assert admin.get_object(Bucket="acme", Key=f"maps/{tag}/copied.txt")["ContentLength"] == 6_000_000
    dst = f"maps/{tag}/part-copied.bin"
    uid = admin.create_multipart_upload(Bucket="acme", Key=dst)["UploadId"]
    r = admin.upload_part_copy(Bucket="acme", Key=dst, UploadId=uid, PartNumber=1,
                               CopySource={"Bucket": "acme", "Key": src}, CopySourceRange="bytes=0-5242879")
    admin.complete_multipart_upload(Bucket="acme", Key=dst, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]})
    assert admin.head_object(Bucket="acme", Key=dst)["ContentLength"] == 5 << 20
    # A source in a product the caller may not read is refused.
    assert_client_error(admin.copy_object, 404, "NoSuchBucket", Bucket="acme", Key=f"maps/{tag}/x",
                        CopySource={"Bucket": "acme", "Key": "nope/x"})


def test_delete_objects_maps_keys_and_refuses_keys_of_another_product(admin, tag):
    keys = [f"data/{tag}/del/{i}" for i in range(3)]
    for k in keys:
        admin.put_object(Bucket="acme", Key=k, Body=b"d")
    admin.put_object(Bucket="acme", Key=f"maps/{tag}/keep", Body=b"k")
    r = admin.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": k} for k in keys]
                                                   + [{"Key": f"maps/{tag}/keep"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys)
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [(f"maps/{tag}/keep", "InvalidRequest")]
    assert admin.list_objects_v2(Bucket="acme", Prefix=f"data/{tag}/del/")["KeyCount"] == 0
    assert admin.head_object(Bucket="acme", Key=f"maps/{tag}/keep")["ContentLength"] == 1
    admin.delete_object(Bucket="acme", Key=f"maps/{tag}/keep")
    assert_client_error(admin.head_object, 404, "404", Bucket="acme", Key=f"maps/{tag}/keep")


def test_presigned_get_and_a_wrong_secret_is_refused(mapped, admin, tag):
    key = f"data/{tag}/presigned ü.txt"
    admin.put_object(Bucket="acme", Key=key, Body=b"signed")
    url = admin.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": key}, ExpiresIn=300)
    r = requests.get(url)
    assert r.status_code == 200 and r.content == b"signed"
    wrong = boto(mapped, KEYS["admin"][0], "not-the-secret")
    assert_client_error(wrong.get_object, 403, "SignatureDoesNotMatch", Bucket="acme", Key=key)
    bad = wrong.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": key}, ExpiresIn=300)
    assert_s3_error(requests.get(bad), 403, "SignatureDoesNotMatch")


def test_virtual_hosted_style_maps_the_same_way(mapped, admin, tag):
    key = f"open/{tag}/vh/vh.txt"
    admin.put_object(Bucket="acme", Key=key, Body=b"vhost")
    port = mapped.rsplit(":", 1)[1]
    host = f"acme.{DOMAIN}:{port}"
    r = requests.get(f"{mapped}/{key}", headers={"host": host})
    assert r.status_code == 200 and r.content == b"vhost", r.text
    url, headers = sign("GET", f"{mapped}/?list-type=2&prefix=open/{tag}/vh/", *KEYS["admin"], host=host)
    r = requests.get(url, headers=headers)
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.findtext(f"{NS}Name") == "acme"
    assert [k.text for k in root.iter(f"{NS}Key")] == [key]


def test_bad_inputs_get_s3_errors(mapped, admin):
    # Several products' keys without a delimiter: not silently partial.
    assert_client_error(admin.list_objects_v2, 501, "NotImplemented", Bucket="acme")
    r = requests.post(f"{mapped}/acme?delete", data=b"<Delete><Object><Key>x</Key></Object></Delete>")
    assert r.status_code in (400, 403), r.text
    assert_request_id(r.headers)
    with pytest.raises(ClientError):
        admin.delete_objects(Bucket="acme", Delete={"Objects": [{"Key": "README"}]})


@pytest.fixture(scope="module")
def aws(mapped, tmp_path_factory):
    d = tmp_path_factory.mktemp("awscli-pathmap")
    cfg = d / "config"
    cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n  addressing_style = path\n")

    def run(*args, check=True):
        env = dict(os.environ, AWS_CONFIG_FILE=str(cfg), AWS_SHARED_CREDENTIALS_FILE=str(d / "none"))
        env.pop("AWS_PROFILE", None)
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = KEYS["admin"]
        p = subprocess.run(["aws", "--endpoint-url", mapped, *args], env=env, capture_output=True,
                           text=True, timeout=600, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p
    return run


def test_aws_cli_ls_cp_and_sync(aws, tmp_path, tag):
    out = aws("s3", "ls", "s3://acme/").stdout
    assert all(f"PRE {p}/" in out for p in ("data", "maps", "open")), out
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(9 << 20))  # multipart above 8 MiB
    aws("s3", "cp", str(src), f"s3://acme/data/{tag}/cli/up.bin")
    out = aws("s3", "ls", f"s3://acme/data/{tag}/cli/").stdout
    assert "up.bin" in out and str(9 << 20) in out, out
    assert f"PRE {tag}/" in aws("s3", "ls", "s3://acme/data/").stdout
    down = tmp_path / "down.bin"
    aws("s3", "cp", f"s3://acme/data/{tag}/cli/up.bin", str(down))
    assert down.read_bytes() == src.read_bytes()
    tree = tmp_path / "tree"
    for rel in ("a.txt", "sub/b.txt", "sub/deeper/c d.txt"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(rel)
        # Older than the uploads, so a second sync has nothing to send.
        os.utime(tree / rel, (1_600_000_000, 1_600_000_000))
    aws("s3", "sync", str(tree), f"s3://acme/maps/{tag}/sync/")
    again = aws("s3", "sync", str(tree), f"s3://acme/maps/{tag}/sync/").stdout
    assert "upload" not in again, again
    back = tmp_path / "back"
    aws("s3", "sync", f"s3://acme/maps/{tag}/sync/", str(back))
    assert sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()) == \
        ["a.txt", "sub/b.txt", "sub/deeper/c d.txt"]
    aws("s3", "rm", "--recursive", f"s3://acme/maps/{tag}/sync/")
    assert aws("s3", "ls", "--recursive", f"s3://acme/maps/{tag}/sync/", check=False).stdout.strip() == ""
