#!/usr/bin/env python3
"""make bench: latency and throughput of llm-sessions on the server scripts/db.sh names.

pgbench is the load generator for the SQL calls; the Swift client makes the same
calls through llm-sessions-bench. Everything runs in one run on one server, and
the report is printed as a markdown table and written to .bench/report.md.
Benchmark sessions are created with the role 'bench' and ended at the end.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNINFO = os.environ["LLM_CONNINFO"]
QUESTION = "What changed in the deployment plan since our last conversation?"      # ~60 chars
RESPONSE = ("The plan now ships the session store first and measures it before the rest. " * 16)[:1200]
SWIFT_BENCH = os.path.join(ROOT, ".build", "release", "llm-sessions-bench")
OUT = os.path.join(ROOT, ".bench")


def psql(sql, *args):
    """Runs one statement with psql variables bound as :'v1', :'v2' ... and returns the text result."""
    cmd = ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"v{i}={a}"]
    return subprocess.run(cmd, input=sql, capture_output=True, text=True, check=True).stdout.strip()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def pgbench(script, clients=1, transactions=None, seconds=None, variables=None):
    """Runs pgbench with bind parameters (-M prepared) and returns per-transaction latencies in ms and tps."""
    tmp = tempfile.mkdtemp(prefix="bench-", dir=OUT)
    path = os.path.join(tmp, "script.sql")
    with open(path, "w") as f:
        f.write(script)
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
           "-f", path, "-l", "--log-prefix", os.path.join(tmp, "log")]
    cmd += ["-t", str(transactions)] if transactions else ["-T", str(seconds)]
    for k, v in (variables or {}).items():
        cmd += ["-D", f"{k}={v}"]
    res = subprocess.run(cmd + [CONNINFO], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"pgbench failed:\n{res.stderr}\n{res.stdout}")
    lat = []
    for name in os.listdir(tmp):
        if name.startswith("log"):
            with open(os.path.join(tmp, name)) as f:
                lat += [int(line.split()[2]) / 1000.0 for line in f]
    tps = float(next(l for l in res.stdout.splitlines() if l.startswith("tps")).split()[2])
    shutil.rmtree(tmp)
    return lat, tps


def swift_bench(op, session_id, iterations):
    """Runs the same call through the Swift client; returns latencies in ms."""
    res = subprocess.run([SWIFT_BENCH, "--op", op, "--session", session_id, "--iterations", str(iterations),
                          "--question", QUESTION, "--response", RESPONSE, "--database-url", CONNINFO],
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"llm-sessions-bench failed:\n{res.stderr}")
    return json.loads(res.stdout)["latencies_ms"]


def swift_memory(session_id):
    """Reads the whole session once through the Swift client; returns how far its peak RSS rose (bytes)."""
    res = subprocess.run([SWIFT_BENCH, "--op", "get", "--report-memory", "--session", session_id,
                          "--database-url", CONNINFO], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"llm-sessions-bench --report-memory failed:\n{res.stderr}")
    return json.loads(res.stdout)["peak_rss_bytes"]


def new_session(turns=0):
    sid = psql("SELECT llm.create_session('bench')->>'session_id'")
    if turns:
        # Filled through the API itself, one append per turn, as a client would.
        psql(f"""SELECT count(llm.append_turn(:'v1', :'v2', :'v3', 100)) FROM generate_series(1, {turns})""",
             sid, QUESTION, RESPONSE)
    return sid


def main():
    os.makedirs(OUT, exist_ok=True)
    have_swift = os.access(SWIFT_BENCH, os.X_OK)
    n = int(os.environ.get("BENCH_ITERATIONS", "2000"))
    rows = []

    def row(name, lat, tps=None, swift=None):
        r = {"name": name, "p50": pct(lat, 50), "p99": pct(lat, 99), "tps": tps}
        if swift:
            r["swift_p50"], r["swift_p99"] = pct(swift, 50), pct(swift, 99)
        rows.append(r)
        print(f"  {name}: p50 {r['p50']:.3f} ms, p99 {r['p99']:.3f} ms", file=sys.stderr)

    print(f"==> llm-sessions bench: {n} calls per row, 1 client, payload {len(QUESTION)}+{len(RESPONSE)} chars",
          file=sys.stderr)
    lat, tps = pgbench("SELECT 1;\n", transactions=n)
    row("SELECT 1 (physical limit of a round trip)", lat, tps)

    sid = new_session()
    lat, tps = pgbench("SELECT llm.append_turn(:sid, :q, :r, 100);\n", transactions=n,
                       variables={"sid": sid, "q": QUESTION, "r": RESPONSE})
    sw = swift_bench("append", new_session(), n) if have_swift else None
    row("append_turn", lat, tps, sw)

    big = new_session(1000)
    lat, tps = pgbench("SELECT llm.get_session(:sid, 20);\n", transactions=n, variables={"sid": big})
    sw = swift_bench("get20", big, n) if have_swift else None
    row("get_session last_n=20 of 1,000 turns", lat, tps, sw)

    lat, tps = pgbench("SELECT llm.get_session(:sid);\n", transactions=max(200, n // 10), variables={"sid": big})
    sw = swift_bench("get", big, max(200, n // 10)) if have_swift else None
    row("get_session whole 1,000 turns", lat, tps, sw)

    memory = None
    if have_swift:
        huge = new_session(10000)
        # The very text the server sends for the call (jsonb's text output).
        json_bytes = int(psql("SELECT octet_length(llm.get_session(:'v1')::text)", huge))
        memory = {"json_bytes": json_bytes, "peak_rss_bytes": swift_memory(huge)}
        print(f"  Swift peak memory, whole 10,000 turns: {memory['peak_rss_bytes']} bytes "
              f"for {json_bytes} bytes of JSON", file=sys.stderr)

    psql("SELECT count(llm.end_session(s->>'session_id')) FROM jsonb_array_elements("
         "llm.list_sessions('bench', 1000)->'sessions') s")

    lines = ["| call | pgbench p50 ms | pgbench p99 ms | Swift p50 ms | Swift p99 ms | Swift/pgbench p50 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "swift_p50" in r:
            lines.append(f"| {r['name']} | {r['p50']:.3f} | {r['p99']:.3f} | {r['swift_p50']:.3f} | "
                         f"{r['swift_p99']:.3f} | {r['swift_p50'] / r['p50']:.2f}x |")
        else:
            lines.append(f"| {r['name']} | {r['p50']:.3f} | {r['p99']:.3f} | - | - | - |")
    server = psql("SHOW server_version") + ", fsync=" + psql("SHOW fsync") + \
        ", synchronous_commit=" + psql("SHOW synchronous_commit")
    report = "\n".join([f"llm-sessions bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                        f"PostgreSQL {server}, {os.cpu_count()} cores, unix socket, 1 client, "
                        f"{n} calls per row (whole reads: {max(200, n // 10)})", ""] + lines)
    if memory:
        report += "\n\n" + "\n".join([
            "| Swift client memory | JSON received | peak RSS growth | peak / JSON |",
            "|---|---:|---:|---:|",
            f"| get_session whole 10,000 turns | {memory['json_bytes'] / 1e6:.1f} MB | "
            f"{memory['peak_rss_bytes'] / 1e6:.1f} MB | {memory['peak_rss_bytes'] / memory['json_bytes']:.2f}x |"])
    if not have_swift:
        report += "\n\n(Swift client not measured: llm-sessions-bench was not built)"
    print(report)
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
