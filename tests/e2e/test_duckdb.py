"""DuckDB (httpfs) through the gateway: multipart writes, ranged reads, globbing, anonymous reads."""
import glob
import os
import uuid
from urllib.parse import urlsplit

import duckdb
import pytest

from conftest import KEYS


def httpfs_extension():
    import duckdb_extension_httpfs
    found = glob.glob(os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "**",
                                   "httpfs.duckdb_extension"), recursive=True)
    assert found, "httpfs.duckdb_extension not found in the duckdb-extension-httpfs package"
    return found[0]


@pytest.fixture
def duck(gateway):
    def connect(identity):
        con = duckdb.connect()
        con.execute(f"LOAD '{httpfs_extension()}'")
        key, secret = KEYS[identity] if identity else ("", "")
        host = urlsplit(gateway.endpoint).netloc
        con.execute(f"CREATE SECRET gw (TYPE s3, KEY_ID '{key}', SECRET '{secret}', REGION 'us-east-1', "
                    f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)")
        return con
    return connect


def test_duckdb_writes_parquet_and_reads_it_back_with_ranged_gets(duck):
    con = duck("admin")
    base = f"s3://private/duck-{uuid.uuid4().hex[:8]}"
    con.execute(f"COPY (SELECT range AS i, 'row ' || range AS s FROM range(200000)) TO '{base}/t.parquet' "
                "(FORMAT parquet)")
    assert con.execute(f"SELECT count(*), sum(i) FROM '{base}/t.parquet'").fetchall() == [(200000, 19999900000)]
    assert con.execute(f"SELECT count(*) FROM glob('{base}/*')").fetchall() == [(1,)]


def test_duckdb_reads_a_public_bucket_anonymously(duck, s3):
    s3["admin"].put_object(Bucket="public", Key="duck/data.csv", Body=b"a,b\n1,2\n3,4\n")
    con = duck(None)
    assert con.execute("SELECT sum(a + b) FROM 's3://public/duck/data.csv'").fetchall() == [(10,)]
