"""ListBuckets through pass-through buckets: `pt-*` (and `1*`) map every name they match to the
SeaweedFS bucket of that name, so the gateway lists the backend's buckets those globs reach,
merged with the configured ones, filtered by what the caller may see. A failing backend is left
out (test_faults.py); anonymous callers are refused (test_buckets.py)."""
import datetime
import uuid

import pytest

from conftest import KEYS, PT_SCOPED_BUCKET
from helpers import aws_cli


@pytest.fixture(scope="module")
def aws(gateway, tmp_path_factory):
    return aws_cli(gateway.endpoint, KEYS, tmp_path_factory.mktemp("awscli-lb"))


@pytest.fixture(scope="module")
def pt_buckets(backend):
    """Backend buckets: two a pass-through bucket reaches, one it does not (not `pt-*`)."""
    tag = uuid.uuid4().hex[:8]
    names = {"pt": [f"pt-lb-{tag}-a", f"pt-lb-{tag}-b", PT_SCOPED_BUCKET],
             "other": [f"zz-lb-{tag}"]}
    for n in names["pt"] + names["other"]:
        try:
            backend.create_bucket(Bucket=n)
        except backend.exceptions.BucketAlreadyOwnedByYou:
            pass
    yield names
    for n in names["pt"] + names["other"]:
        try:
            backend.delete_bucket(Bucket=n)
        except Exception:  # noqa: BLE001 - best effort
            pass


def names(client, **kw):
    return [b["Name"] for b in client.list_buckets(**kw)["Buckets"]]


def test_boto3_list_buckets_shows_the_backend_buckets_behind_a_pass_through_bucket(s3, backend,
                                                                                 pt_buckets):
    listed = names(s3["admin"])
    for n in pt_buckets["pt"]:
        assert n in listed, listed
    # A backend bucket no glob of that backend reaches is not the client's to see.
    for n in pt_buckets["other"]:
        assert n not in listed, listed
    # Sorted by name, as S3 sorts, each once; configured buckets beside them.
    assert listed == sorted(set(listed))
    assert "private" in listed and "public" in listed
    # Every `pt-` name listed is a backend bucket (nothing invented).
    at_backend = {b["Name"]: b["CreationDate"] for b in backend.list_buckets()["Buckets"]}
    assert {n for n in listed if n.startswith("pt-")} <= set(at_backend)
    # The creation date is the backend's.
    r = s3["admin"].list_buckets()
    got = {b["Name"]: b["CreationDate"] for b in r["Buckets"]}
    a = pt_buckets["pt"][0]
    assert abs(got[a] - at_backend[a]) < datetime.timedelta(seconds=1), (got[a], at_backend[a])
    assert r["Owner"]["ID"]


def test_aws_s3_ls_lists_the_backend_buckets_behind_a_pass_through_bucket(aws, pt_buckets):
    out = aws("s3", "ls").stdout
    listed = [line.split()[-1] for line in out.splitlines() if line.strip()]
    for n in pt_buckets["pt"]:
        assert n in listed, out
    assert pt_buckets["other"][0] not in listed, out
    assert "private" in listed, out
    # `--page-size` pages with max-buckets and continuation tokens: the same list.
    paged = aws("s3", "ls", "--page-size", "2").stdout
    assert [line.split()[-1] for line in paged.splitlines() if line.strip()] == listed


def test_list_buckets_filters_by_prefix_and_pages(s3, pt_buckets):
    prefix = pt_buckets["pt"][0][: -len("-a")]
    r = s3["admin"].list_buckets(Prefix=prefix)
    assert [b["Name"] for b in r["Buckets"]] == pt_buckets["pt"][:2]
    assert r["Prefix"] == prefix
    first = s3["admin"].list_buckets(Prefix=prefix, MaxBuckets=1)
    assert [b["Name"] for b in first["Buckets"]] == pt_buckets["pt"][:1]
    rest = s3["admin"].list_buckets(Prefix=prefix, MaxBuckets=1,
                                    ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == pt_buckets["pt"][1:2]
    assert "ContinuationToken" not in rest


def test_a_caller_scoped_to_one_pass_through_bucket_sees_only_that_bucket(s3, aws, gateway,
                                                                         pt_buckets):
    # Its one bucket, beside the public buckets every signed caller sees.
    public = [b["name"] for b in gateway.config["buckets"] if b.get("anonymous_access")]
    assert names(s3["ptscoped"]) == sorted(public + [PT_SCOPED_BUCKET])
    out = aws("s3", "ls", identity="ptscoped").stdout
    listed = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert listed == sorted(public + [PT_SCOPED_BUCKET]), out
    # A caller whose scopes reach no pass-through name sees none of the backend's buckets.
    assert not [n for n in names(s3["reader"]) if n.startswith("pt-")]
