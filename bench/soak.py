"""A bounded soak: a steady mix of requests against the native server (or, with --worker, the
Worker in bare workerd) in front of SeaweedFS, for a fixed time at fixed concurrency.

The mix: 4 KiB GETs, ranged GETs of a larger object (206), 4 KiB PUTs, ListObjectsV2, each
anonymous (reads), presigned (SigV4 query) and header-signed (SigV4 Authorization). wrk
(bench/soak.lua) cycles through raw requests prepared and signed here (LuaJIT has no HMAC):
presigned URLs with a long expiry, header signatures with an x-amz-date taken just before the
run (hence a run stays under the 15-minute skew window). Header-signed PUTs sign the body's
SHA-256, so what is sent is what was signed. Every prepared request is sent once before the run
and must answer as expected (nothing measured is an error by construction).

Reports per-status counts (any status but 200/206 and any socket error is an error; samples of
the error bodies are printed), requests/s, latency p50/p99 (wrk), the server's CPU per request,
and its RSS sampled every second from /proc/<pid>/status (VmRSS: idle, peak, end, first vs last
window average) with its open file descriptors, so "flat" is visible. After the run every object
the PUTs wrote is read from SeaweedFS directly and compared with the body that was signed.
Writes the summary and the RSS samples (CSV) to bench/out/. Exit status 1 on any error; no
threshold on timing or memory (the machines are shared): read the figures.
"""
import argparse
import hashlib
import http.client
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from bench import GW_KEY, GW_SECRET, client, cpu_seconds, gateway_config, start_gateway, start_seaweed  # noqa: E402
from conftest import wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
SKEW_LIMIT_S = 14 * 60  # AWS (and the gateway) accept x-amz-date within 15 minutes
# kind -> weight (per cent of the mix)
MIX = {
    "get-anon": 12, "get-presigned": 10, "get-signed": 10,
    "range-anon": 8, "range-presigned": 8, "range-signed": 8,
    "put-presigned": 10, "put-signed": 10,
    "list-anon": 8, "list-presigned": 8, "list-signed": 8,
}
EXPECT = {"get": 200, "range": 206, "put": 200, "list": 200}


def env_int(name, default):
    return int(os.environ.get(name, default))


def status_field(pid, field):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


class Sampler(threading.Thread):
    """VmRSS (KiB) and open fds of `pid` once a second: (seconds since start, rss, fds)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop_ev = pid, [], threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.stop_ev.is_set():
            self.samples.append((time.monotonic() - t0, status_field(self.pid, "VmRSS"), open_fds(self.pid)))
            self.stop_ev.wait(1.0)

    def stop(self):
        self.stop_ev.set()
        self.join()


def raw_request(method, url, headers, body=b""):
    """The exact bytes sent, for wrk and the pre-flight check alike."""
    u = urlsplit(url)
    target = u.path + (f"?{u.query}" if u.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {u.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    if body or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def header_signed(method, url, headers=None, body=b""):
    """SigV4 Authorization header, x-amz-date now, payload hash of `body` (http: botocore signs it)."""
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    S3SigV4Auth(Credentials(GW_KEY, GW_SECRET), "s3", "us-east-1").add_auth(req)
    hdrs = {k: v for k, v in req.headers.items()}
    if body:
        assert hdrs["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest(), "PUT body not the signed one"
    return hdrs


def put_body(i):
    """The body of PUT key i: always the same, so the backend's copy can be checked afterwards."""
    return random.Random(f"put-{i}").randbytes(4096)


def prepare(base, presigner, args, rng):
    """The mix as a shuffled list of (kind, raw bytes, expected status)."""
    small = [f"small/{i:03d}" for i in range(args.small_objects)]
    big_size = args.big_mib << 20
    span = args.range_kib << 10

    def obj_url(key):
        return f"{base}/{BUCKET}/{key}"

    def presign(op, params):
        return presigner.generate_presigned_url(op, Params={"Bucket": BUCKET, **params}, ExpiresIn=24 * 3600)

    def a_range():
        start = rng.randrange(0, big_size - span) & ~4095
        return f"bytes={start}-{start + span - 1}"

    def list_params():
        return rng.choice([{"Prefix": "small/"}, {"Prefix": "small/00", "MaxKeys": 5},
                           {"Delimiter": "/", "MaxKeys": 10}])

    def list_query(p):
        q = "list-type=2"
        if "Delimiter" in p:
            q += "&delimiter=%2F"
        if "MaxKeys" in p:
            q += f"&max-keys={p['MaxKeys']}"
        if "Prefix" in p:
            q += "&prefix=" + p["Prefix"].replace("/", "%2F")
        return q

    def make(kind, n):
        op, how = kind.split("-")
        if op == "get":
            key = small[n % len(small)]
            if how == "anon":
                return raw_request("GET", obj_url(key), {})
            if how == "presigned":
                return raw_request("GET", presign("get_object", {"Key": key}), {})
            return raw_request("GET", obj_url(key), header_signed("GET", obj_url(key)))
        if op == "range":
            rh = {"Range": a_range()}
            if how == "anon":
                return raw_request("GET", obj_url("big"), rh)
            if how == "presigned":
                return raw_request("GET", presign("get_object", {"Key": "big"}), rh)
            return raw_request("GET", obj_url("big"), header_signed("GET", obj_url("big"), rh))
        if op == "put":
            i = n % args.put_keys
            key, body = f"soak/put-{i:03d}", put_body(i)
            if how == "presigned":
                return raw_request("PUT", presign("put_object", {"Key": key}), {}, body)
            return raw_request("PUT", obj_url(key), header_signed("PUT", obj_url(key), body=body), body)
        p = list_params()
        if how == "anon":
            return raw_request("GET", f"{base}/{BUCKET}?{list_query(p)}", {})
        if how == "presigned":
            return raw_request("GET", presign("list_objects_v2", p), {})
        url = f"{base}/{BUCKET}?{list_query(p)}"
        return raw_request("GET", url, header_signed("GET", url))

    out = []
    for kind, weight in MIX.items():
        for n in range(weight * args.mix_size // 100):
            out.append((kind, make(kind, n), EXPECT[kind.split("-")[0]]))
    rng.shuffle(out)
    return out


def send_raw(host, port, raw):
    method = raw.split(b" ", 1)[0].decode()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(raw)
        r = http.client.HTTPResponse(s, method=method)
        r.begin()
        return r.status, r.read()


def preflight(base, requests_):
    """Sends each prepared request once; returns the failures (kind, status, body)."""
    u = urlsplit(base)
    failures = []
    for kind, raw, expect in requests_:
        status, body = send_raw(u.hostname, u.port, raw)
        if status != expect:
            failures.append((kind, status, body[:300]))
    return failures


def run_wrk(url, script, data, seconds, conns, threads, timeout, wrap):
    cmd = [*wrap, "wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", f"--timeout={timeout}s",
           "-s", str(script), url, "--", str(data)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    res = {"statuses": {}, "samples": [], "latency_us": {}, "text": out.stdout}
    for line in out.stdout.splitlines():
        parts = line.split(" ", 2)
        if parts[0] != "SOAK":
            continue
        if parts[1] == "sample":
            res["samples"].append(parts[2])
        elif parts[1] == "status":
            status, count = parts[2].split()
            res["statuses"][int(status)] = int(count)
        elif parts[1] == "latency_us":
            p, v = parts[2].split()
            res["latency_us"][p] = int(v)
        else:
            res[parts[1]] = int(parts[2])
    return res


def cpu_split(want_pin):
    """(server cpus, load-tool cpus) as taskset lists, or None: only with taskset and >= 4 CPUs,
    so nothing is pinned on a small (or shared 2-core) machine. SeaweedFS shares the server's."""
    cpus = sorted(os.sched_getaffinity(0))
    if not want_pin or not shutil.which("taskset") or len(cpus) < 4:
        return None
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


def window_avg(samples, lo, hi):
    vals = [rss for t, rss, _ in samples if lo <= t < hi]
    return sum(vals) / len(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help="against the Worker in bare workerd")
    ap.add_argument("--seconds", type=int, default=None,
                    help="duration (env SOAK_SECONDS; default 600, 120 with --worker)")
    ap.add_argument("--connections", type=int, default=None, help="env SOAK_CONNECTIONS; default 64")
    ap.add_argument("--threads", type=int, default=env_int("SOAK_THREADS", 2), help="wrk threads")
    ap.add_argument("--timeout", type=int, default=10, help="wrk request timeout, s")
    ap.add_argument("--mix-size", type=int, default=1000, help="prepared requests wrk cycles through")
    ap.add_argument("--small-objects", type=int, default=32)
    ap.add_argument("--big-mib", type=int, default=8, help="size of the object ranged GETs read")
    ap.add_argument("--range-kib", type=int, default=64, help="bytes per ranged GET")
    ap.add_argument("--put-keys", type=int, default=64, help="distinct keys the PUTs overwrite")
    ap.add_argument("--no-pin", action="store_true", help="never taskset (default: split CPUs if >= 4)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    args = ap.parse_args()
    mode = "worker" if args.worker else "native"
    seconds = args.seconds or env_int("SOAK_SECONDS", 120 if args.worker else 600)
    conns = args.connections or env_int("SOAK_CONNECTIONS", 64)
    if seconds > SKEW_LIMIT_S:
        sys.exit(f"--seconds {seconds}: header-signed requests carry one x-amz-date, valid for 15 minutes; "
                 f"stay at or under {SKEW_LIMIT_S} s")
    threads = max(1, min(args.threads, conns))
    split = cpu_split(not args.no_pin)
    srv_wrap = ("taskset", "-c", split[0]) if split else ()
    load_wrap = ("taskset", "-c", split[1]) if split else ()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="mssoak-"))
    procs = []
    rng = random.Random(16)
    try:
        print(f"==> SeaweedFS, {args.small_objects} x 4 KiB + one {args.big_mib} MiB object", flush=True)
        weed, direct, backend = start_seaweed(work)
        procs.append(weed)
        if split:
            subprocess.run(["taskset", "-a", "-p", "-c", split[0], str(weed.p.pid)], check=True,
                           stdout=subprocess.DEVNULL)
        for i in range(args.small_objects):
            backend.put_object(Bucket=BUCKET, Key=f"small/{i:03d}", Body=os.urandom(4096))
        backend.put_object(Bucket=BUCKET, Key="big", Body=os.urandom(args.big_mib << 20))

        if args.worker:
            from worker import start_workerd
            server, port, _ = start_workerd(work, gateway_config(direct), wrap=srv_wrap)
            procs.append(server)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/{BUCKET}/small/000", server, timeout=60, ok=lambda r: r.status_code == 200)
            what = "the Worker (bare workerd)"
        else:
            server, base = start_gateway(work, direct, wrap=srv_wrap)
            procs.append(server)
            what = "multistore-server"
        pid = server.p.pid
        presigner = client(base, GW_KEY, GW_SECRET)

        print(f"==> preparing and checking {args.mix_size} requests", flush=True)
        reqs = prepare(base, presigner, args, rng)
        signed_at = time.time()
        failures = preflight(base, reqs)
        if failures:
            for kind, status, body in failures[:20]:
                print(f"  pre-flight {kind}: {status} {body!r}")
            sys.exit(f"{len(failures)} prepared requests do not answer as expected: not starting the soak")
        data = work / "requests.bin"
        with open(data, "wb") as f:
            for _, raw, _ in reqs:
                f.write(b"%d\n" % len(raw) + raw)

        rss_idle, fds_idle = status_field(pid, "VmRSS"), open_fds(pid)
        cpu0, weed_cpu0 = cpu_seconds([pid]), cpu_seconds([weed.p.pid])
        pin_note = f"server and SeaweedFS on CPUs {split[0]}, wrk on {split[1]}" if split else "no CPU pinning"
        print(f"==> soak: {what}, {seconds} s, {conns} connections, {threads} wrk threads, {pin_note}",
              flush=True)
        sampler = Sampler(pid)
        sampler.start()
        w = run_wrk(base + "/", ROOT / "bench" / "soak.lua", data, seconds, conns, threads, args.timeout,
                    load_wrap)
        sampler.stop()
        cpu, weed_cpu = cpu_seconds([pid]) - cpu0, cpu_seconds([weed.p.pid]) - weed_cpu0
        rss_end, fds_end, hwm = status_field(pid, "VmRSS"), open_fds(pid), status_field(pid, "VmHWM")
        if time.time() - signed_at > 15 * 60:
            print("warning: the run outlived the header signatures' 15-minute window")

        # Every object the PUTs wrote is the body that was signed.
        put_keys = min(args.put_keys, MIX["put-presigned"] * args.mix_size // 100)
        corrupt = [i for i in range(put_keys)
                   if backend.get_object(Bucket=BUCKET, Key=f"soak/put-{i:03d}")["Body"].read() != put_body(i)]
        alive = server.alive()

        total = w["requests"]
        dur = w["duration_us"] / 1e6
        bad = {s: c for s, c in sorted(w["statuses"].items()) if s not in (200, 206)}
        sock = {k: w[f"socket_{k}"] for k in ("connect", "read", "write", "timeout") if w[f"socket_{k}"]}
        errors = sum(bad.values()) + sum(sock.values()) + len(corrupt) + (0 if alive else 1)
        samples = sampler.samples
        win = 60.0 if dur >= 180 else dur / 3
        first, last = window_avg(samples, 0, win), window_avg(samples, dur - win, dur + 5)
        peak = max([rss for _, rss, _ in samples] + [rss_end])
        mib = 1024.0
        lat = w["latency_us"]
        lines = [
            f"soak {mode} {stamp}: {what} in front of SeaweedFS, {seconds} s, {conns} connections, "
            f"{threads} wrk threads, {pin_note}",
            "mix (% of requests): " + ", ".join(f"{k} {v}" for k, v in MIX.items()),
            f"  4 KiB objects, ranged GETs of {args.range_kib} KiB in a {args.big_mib} MiB object, 4 KiB PUTs "
            f"over {args.put_keys} keys, ListObjectsV2; {len(reqs)} prepared requests",
            f"requests {total} in {dur:.1f} s: {total / dur:.0f} req/s, {w['bytes'] / dur / 1e6:.1f} MB/s read",
            "statuses: " + ", ".join(f"{s}: {c}" for s, c in sorted(w["statuses"].items())),
            f"errors: {errors} (non-2xx/206: {sum(bad.values())}{' ' + str(bad) if bad else ''}, socket: {sock or 0}, "
            f"corrupt PUT objects: {len(corrupt)}, server {'alive' if alive else 'DIED'})",
            f"latency: p50 {lat['p50'] / 1000:.2f} ms, p90 {lat['p90'] / 1000:.2f} ms, "
            f"p99 {lat['p99'] / 1000:.2f} ms, p99.9 {lat['p99.9'] / 1000:.2f} ms, max {lat['max'] / 1000:.1f} ms",
            f"CPU: server {cpu:.1f} s ({cpu / total * 1e6 if total else 0:.0f} us per request), "
            f"SeaweedFS {weed_cpu:.1f} s ({weed_cpu / total * 1e6 if total else 0:.0f} us per request), "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
            f"server RSS: idle {rss_idle / mib:.1f} MiB, peak {peak / mib:.1f} MiB (VmHWM {hwm / mib:.1f}), "
            f"end {rss_end / mib:.1f} MiB; average first {win:.0f} s {first / mib:.1f} MiB, "
            f"last {win:.0f} s {last / mib:.1f} MiB ({(last - first) / mib:+.1f} MiB)",
            f"server open fds: idle {fds_idle}, max {max([f for *_, f in samples] + [fds_end])}, end {fds_end}",
        ]
        lines += [f"error sample: {s}" for s in w["samples"]]
        if corrupt:
            lines.append(f"corrupt PUT objects: {corrupt[:10]}")
        summary = "\n".join(lines)
        print("\n" + summary)
        base_name = out_dir / f"soak-{mode}-{stamp}"
        Path(f"{base_name}.txt").write_text(summary + "\n\nwrk:\n" + w["text"])
        with open(f"{base_name}-rss.csv", "w") as f:
            f.write("seconds,vmrss_kib,open_fds\n")
            for t, rss, fds in samples:
                f.write(f"{t:.1f},{rss},{fds}\n")
        print(f"\nwritten: {base_name}.txt, {base_name}-rss.csv")
        if errors:
            sys.exit(1)
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
