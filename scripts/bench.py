#!/usr/bin/env python3
"""make bench: llm-sessions beside the physical limit and two other designs, in one run.

Everything runs on the server scripts/db.sh names, with pgbench (-M prepared: bind
parameters) as the load generator and the same turn everywhere (QUESTION, RESPONSE):

  physical limit  SELECT 1, and a bare one-row INSERT of the turn (bench.bare)
  seed design     the whole history in one jsonb column, read then rewritten by the
                  client: two round trips, no lock (bench.seed_sessions)
  message_store   one row per message, LangChain's PostgresChatMessageHistory
                  (bench.message_store)
  llm-sessions    llm.append_turn, llm.get_session, llm.get_context

and the Swift client (Sources/llm-sessions-bench) for the same calls. The report is
printed as markdown and written to .bench/report.md.

Only this run's objects are touched: the scratch schema `bench` (created at the start,
its existence doubles as a lock against a second run, dropped at the end), and llm
sessions with agent_role 'bench' and ids starting with RUN ('bench-<pid>-'), deleted at
the end with their archived copies, also after a failure or an interrupt.

Usage: scripts/bench.py [--quick]   (or make bench; BENCH_QUICK=1 for the smoke run)
Sizes: BENCH_ITERATIONS (calls per latency row, default 2000), BENCH_SECONDS (per
throughput row, default 10), BENCH_STALE_SESSIONS (archive row, default 100000).
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNINFO = os.environ.get("LLM_CONNINFO", "")
QUESTION = "What changed in the deployment plan since our last conversation?"      # ~60 chars
RESPONSE = ("The plan now ships the session store first and measures it before the rest. " * 16)[:1200]
TOKENS = 100                     # per turn: get_context's budget of 2,000 tokens covers 20 turns
CONTEXT_BUDGET = 20 * TOKENS
SWIFT_BENCH = os.path.join(ROOT, ".build", "release", "llm-sessions-bench")
HAVE_SWIFT = os.access(SWIFT_BENCH, os.X_OK)
OUT = os.path.join(ROOT, ".bench")
RUN = f"bench-{os.getpid()}-"    # every llm session id of this run starts with it ('_' would be a LIKE wildcard)

# LangChain's message_to_dict() of the turn's two messages, as its client sends them.
HUMAN_MESSAGE = json.dumps({"type": "human", "data": {
    "content": QUESTION, "additional_kwargs": {}, "response_metadata": {}, "type": "human",
    "name": None, "id": None, "example": False}})
AI_MESSAGE = json.dumps({"type": "ai", "data": {
    "content": RESPONSE, "additional_kwargs": {}, "response_metadata": {}, "type": "ai", "name": None,
    "id": None, "example": False, "tool_calls": [], "invalid_tool_calls": [], "usage_metadata": None}})
PAYLOAD = {"q": QUESTION, "r": RESPONSE, "hmsg": HUMAN_MESSAGE, "amsg": AI_MESSAGE}


class BenchError(Exception):
    pass


# --- one place to run SQL, pgbench and percentiles -------------------------------------

def psql(sql, **variables):
    """Runs SQL with psql (variables bound as :'name') and returns the text result."""
    cmd = ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1"] + (["-d", CONNINFO] if CONNINFO else [])
    for k, v in variables.items():
        cmd += ["-v", f"{k}={v}"]
    res = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"psql failed: {res.stderr.strip()}\n--- SQL:\n{sql.strip()[:2000]}")
    return res.stdout.strip()


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


@dataclass
class Run:
    """One pgbench run: per-transaction latencies (ms) and end times (epoch s), tps, counts."""
    latencies: list
    ends: list
    tps: float
    processed: int
    failed: int

    @property
    def p50(self):
        return pct(self.latencies, 50)

    @property
    def p99(self):
        return pct(self.latencies, 99)

    def cell(self):
        return f"{self.p50:.2f} / {self.p99:.2f}"


def pgbench(script, clients=1, transactions=None, seconds=None, variables=None):
    """Runs pgbench -M prepared with a per-transaction log; fails on any aborted client."""
    tmp = tempfile.mkdtemp(prefix="pgbench-", dir=OUT)
    try:
        path = os.path.join(tmp, "script.sql")
        with open(path, "w") as f:
            f.write(script)
        cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
               "-f", path, "-l", "--log-prefix", os.path.join(tmp, "log")]
        cmd += ["-t", str(transactions)] if transactions else ["-T", str(seconds)]
        for k, v in (variables or {}).items():
            cmd += ["-D", f"{k}={v}"]
        res = subprocess.run(cmd + ([CONNINFO] if CONNINFO else []), capture_output=True, text=True)
        if res.returncode != 0:
            raise BenchError(f"pgbench failed:\n{res.stderr.strip()[-3000:]}\n--- script:\n{script}")
        latencies, ends = [], []
        for name in os.listdir(tmp):
            if name.startswith("log"):
                with open(os.path.join(tmp, name)) as f:
                    for line in f:
                        # client_id transaction_no time_us script_no end_epoch_s end_us
                        c = line.split()
                        latencies.append(int(c[2]) / 1000.0)
                        ends.append(int(c[4]) + int(c[5]) / 1e6)
        out = {l.split(":")[0].strip(): l.split(":", 1)[1].strip() for l in res.stdout.splitlines() if ":" in l}
        tps = float(next(l for l in res.stdout.splitlines() if l.startswith("tps")).split()[2])
        processed = int(out["number of transactions actually processed"].split("/")[0])
        failed = int(out.get("number of failed transactions", "0").split()[0])
        return Run(latencies, ends, tps, processed, failed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def say(msg):
    print(f"  {msg}", file=sys.stderr, flush=True)


def checkpoint():
    """Flushes what a prefill dirtied, so that it is not written during the next measurement."""
    if SUPERUSER:
        psql("CHECKPOINT")


# --- the four designs ----------------------------------------------------------------------
# A session is named by an SQL expression over pgbench variables:
#   FIXED      :sid                     one given session
#   FRESH      :prefix || :i            a new session for every append (i counts per client)
#   PER_CLIENT :prefix || :client_id    one session per client (distinct sessions)
#   RANDOM_64  :prefix || :s            a random one of 64 sessions
# Each design's prefill(prefix, last, turns) creates the sessions prefix||0 .. prefix||last
# with `turns` turns of history each, as fast as one statement can.

FIXED = ("", ":sid")
FRESH = ("\\set i :i + 1\n", "(:prefix::text || :i)")
PER_CLIENT = ("", "(:prefix::text || :client_id)")
RANDOM_64 = ("\\set s random(0, 63)\n", "(:prefix::text || :s)")


class Bare:
    """The physical limit of an append: one INSERT of the turn, nothing read, nothing checked."""
    name = "bare INSERT"

    def append(self, session):
        head, sid = session
        return head + f"INSERT INTO bench.bare (session_id, seq, question, response, tokens) " \
                      f"VALUES ({sid}, 1, :q, :r, {TOKENS});\n"

    def prefill(self, prefix, last, turns):
        pass


class Seed:
    """The seed's design: the whole history in one jsonb column, read then rewritten by the client.

    Two statements, each its own transaction, no lock: the SELECT sends the history to the
    client, which sends it back with the new turn. pgbench cannot build JSON, so the new array
    (old history plus the turn, as the seed's client built it) is computed in the SELECT and
    travels to pgbench and back as the UPDATE's parameter: the whole history crosses the
    wire both ways, as it did. The UPDATE is the seed's, parameter for parameter.
    """
    name = "seed (jsonb row)"

    def append(self, session, ledger=False):
        head, sid = session
        update = (f"UPDATE bench.seed_sessions SET conversation_history = :h::jsonb, turn_count = :n, "
                  f"total_tokens = :t, last_query_at = now() WHERE session_id = {sid}")
        if ledger:
            # The lost-turns row also notes each acknowledged append, in the same statement.
            update = f"WITH u AS ({update} RETURNING session_id) INSERT INTO bench.seed_ledger SELECT session_id FROM u"
        return head + (
            f"SELECT conversation_history || jsonb_build_array(jsonb_build_object("
            f"'question', :q::text, 'response', :r::text, 'timestamp', now())) AS h, "
            f"turn_count + 1 AS n, total_tokens + {TOKENS} AS t "
            f"FROM bench.seed_sessions WHERE session_id = {sid} \\gset\n{update};\n")

    def read(self, session):
        return session[0] + f"SELECT conversation_history FROM bench.seed_sessions WHERE session_id = {session[1]};\n"

    def prefill(self, prefix, last, turns):
        psql(f"""INSERT INTO bench.seed_sessions
                   (session_id, agent_role, conversation_history, turn_count, total_tokens, created_at, last_query_at)
                 SELECT :'prefix' || g, 'bench', h.history, {turns}, {TOKENS * turns}, now(), now()
                 FROM generate_series(0, {last}) g,
                      (SELECT COALESCE(jsonb_agg(jsonb_build_object('question', :'q', 'response', :'r',
                                                                    'timestamp', now())), '[]') AS history
                       FROM generate_series(1, {turns})) h""", prefix=prefix, **PAYLOAD)

    def stored(self, prefix, last):
        """(stored turns, acknowledged appends per the ledger, worst session's loss)."""
        return tuple(int(x) for x in psql(f"""
            SELECT sum(jsonb_array_length(s.conversation_history)), sum(l.n),
                   max(l.n - jsonb_array_length(s.conversation_history))
            FROM bench.seed_sessions s
            JOIN (SELECT session_id, count(*) AS n FROM bench.seed_ledger GROUP BY session_id) l USING (session_id)
            WHERE s.session_id LIKE :'prefix' || '%'""", prefix=prefix).split("|"))


class MessageStore:
    """LangChain's PostgresChatMessageHistory: one row per message, an index on session_id.

    langchain-postgres' add_messages() runs cursor.executemany() of a one-row INSERT over the
    turn's messages, then commit(): psycopg 3 opens the transaction with BEGIN and pipelines
    executemany's statements, so a turn is BEGIN + two INSERTs in one round trip, then COMMIT.
    """
    name = "message_store"

    def append(self, session):
        head, sid = session
        return head + ("\\startpipeline\nBEGIN;\n"
                       f"INSERT INTO bench.message_store (session_id, message) VALUES ({sid}, :hmsg);\n"
                       f"INSERT INTO bench.message_store (session_id, message) VALUES ({sid}, :amsg);\n"
                       "\\endpipeline\nCOMMIT;\n")

    def read(self, session):
        return session[0] + f"SELECT message FROM bench.message_store WHERE session_id = {session[1]} ORDER BY id;\n"

    def prefill(self, prefix, last, turns):
        psql(f"""INSERT INTO bench.message_store (session_id, message)
                 SELECT :'prefix' || g, CASE k WHEN 1 THEN :'hmsg'::jsonb ELSE :'amsg'::jsonb END
                 FROM generate_series(0, {last}) g, generate_series(1, {turns}) t, generate_series(1, 2) k
                 ORDER BY g, t, k""", prefix=prefix, **PAYLOAD)

    def stored(self, prefix, last):
        """(complete turns stored, messages stored)."""
        return tuple(int(x) for x in psql(f"""
            SELECT least(count(*) FILTER (WHERE message->>'type' = 'human'),
                         count(*) FILTER (WHERE message->>'type' = 'ai')), count(*)
            FROM bench.message_store WHERE session_id IN (SELECT :'prefix' || g FROM generate_series(0, {last}) g)""",
            prefix=prefix).split("|"))


class LLMSessions:
    """llm-sessions: one call, one transaction, the session row locked, one row per turn."""
    name = "llm-sessions"
    CHUNK = 500   # appends per prefill statement; see prefill

    def append(self, session):
        return session[0] + f"SELECT llm.append_turn({session[1]}, :q, :r, {TOKENS});\n"

    def read(self, session, last_n=None):
        return session[0] + f"SELECT llm.get_session({session[1]}{'' if last_n is None else f', {last_n}'});\n"

    def context(self, session):
        return session[0] + f"SELECT llm.get_context({session[1]}, {CONTEXT_BUDGET});\n"

    def prefill(self, prefix, last, turns):
        # Through the API itself. In statements of at most CHUNK appends per session: N
        # appends to one session in ONE transaction cost O(N^2) (measured: 500 in 0.11 s,
        # 10,000 in 12 s), each leaving a version of the session row that the next one passes.
        sql = [f"SELECT count(llm.create_session('bench', NULL, :'prefix' || g)) FROM generate_series(0, {last}) g;"]
        for done in range(0, turns, self.CHUNK):
            sql.append(f"SELECT count(llm.append_turn(:'prefix' || g, :'q', :'r', {TOKENS})) "
                       f"FROM generate_series(0, {last}) g, generate_series(1, {min(self.CHUNK, turns - done)});")
        psql("\n".join(sql), prefix=prefix, **PAYLOAD)

    def stored(self, prefix, last):
        """(turns stored, the sessions' turn_count summed)."""
        return tuple(int(x) for x in psql(f"""
            SELECT (SELECT count(*) FROM llm.turns t JOIN generate_series(0, {last}) g ON t.session_id = :'prefix' || g),
                   (SELECT sum(s.turn_count) FROM llm.sessions s JOIN generate_series(0, {last}) g ON s.session_id = :'prefix' || g)""",
            prefix=prefix).split("|"))


BARE, SEED, MESSAGES, LLM = Bare(), Seed(), MessageStore(), LLMSessions()
APPENDERS = [BARE, SEED, MESSAGES, LLM]
STORES = [SEED, MESSAGES, LLM]   # the designs that keep a history


def create_schema():
    psql("""
        CREATE SCHEMA bench;
        CREATE TABLE bench.bare (session_id text, seq int, question text, response text, tokens int,
                                 created_at timestamptz DEFAULT now());
        -- The seed's llm_sessions (its Ecto migration), in the scratch schema.
        CREATE TABLE bench.seed_sessions (
          session_id text PRIMARY KEY, agent_role text NOT NULL, startup_context text,
          conversation_history jsonb DEFAULT '[]', turn_count int DEFAULT 0, total_tokens int DEFAULT 0,
          created_at timestamptz NOT NULL, last_query_at timestamptz NOT NULL);
        CREATE INDEX ON bench.seed_sessions (agent_role);
        CREATE INDEX ON bench.seed_sessions (last_query_at);
        CREATE INDEX ON bench.seed_sessions (created_at);
        CREATE TABLE bench.seed_ledger (session_id text NOT NULL);
        CREATE TABLE bench.message_store (id serial PRIMARY KEY, session_id text NOT NULL, message jsonb NOT NULL);
        CREATE INDEX ON bench.message_store (session_id);
    """)


def prefill(designs, prefix, last, turns):
    for d in designs:
        d.prefill(prefix, last, turns)
    # VACUUM llm.sessions: the prefill updated each session row once per turn in a few
    # transactions, and every update of last_query_at (an indexed column) is a non-HOT
    # update. Left alone, the next appends' lookups of the row (bitmap scans of
    # sessions_pkey, which set no LP_DEAD hints) walk thousands of dead versions until
    # autovacuum comes: measured 1.3-2.6 ms instead of 0.4 ms at 10,000 turns.
    psql("VACUUM ANALYZE bench.seed_sessions; VACUUM ANALYZE bench.message_store; VACUUM ANALYZE llm.sessions; "
         "ANALYZE llm.turns;")
    checkpoint()


# --- the rows -------------------------------------------------------------------------------------

def row_physical_limit(r, n, seconds):
    r["select1"] = pgbench("SELECT 1;\n", transactions=n)
    r["select1_8"] = pgbench("SELECT 1;\n", clients=8, seconds=seconds)
    say(f"SELECT 1: {r['select1'].cell()} ms, {r['select1'].tps:.0f} tps; 8 clients {r['select1_8'].tps:.0f} tps")


def row_throughput(r, seconds):
    """Each client appends to its own session, which starts empty, for `seconds`."""
    for clients in (1, 8):
        for d in APPENDERS:
            prefix = f"{RUN}tp{clients}-{d.__class__.__name__.lower()}-"
            prefill([d], prefix, clients - 1, 0)
            run = pgbench(d.append(PER_CLIENT), clients=clients, seconds=seconds, variables=dict(PAYLOAD, prefix=prefix))
            r[("tps", d.name, clients)] = run
            if d is SEED:
                r[("seed_turns", clients)] = int(psql(
                    "SELECT max(turn_count) FROM bench.seed_sessions WHERE session_id LIKE :'prefix' || '%'", prefix=prefix))
            say(f"append throughput, {clients} client(s), {d.name}: {run.tps:.0f} tps ({run.cell()} ms)")


def row_append_latency(r, n, seed_at_10k):
    """Append latency with 0, 1,000 and 10,000 turns of history already stored.

    At 0 every append goes to a session of its own (so the seed's row stays empty); at 1,000
    and 10,000 the appends go to one prefilled session, at most a fifth of its history (the
    seed's only seed_at_10k at 10,000: each rewrites ~14 MB of JSON).
    """
    prefix = f"{RUN}a0-"
    prefill(STORES, prefix, n + 1, 0)
    for d in APPENDERS:
        r[("append", d.name, 0)] = run = pgbench(d.append(FRESH), transactions=n, variables=dict(PAYLOAD, prefix=prefix, i=0))
        say(f"append at 0 turns, {d.name}: {run.cell()} ms")
    for turns in (1000, 10000):
        prefix = f"{RUN}h{turns}-"
        prefill(STORES, prefix, 0, turns)
        for d in STORES:
            m = min(n, turns // 5, seed_at_10k if (d is SEED and turns == 10000) else n)
            # Reads first, on exactly `turns` turns; the appends then make it a little longer.
            if turns == 1000:
                read_rows(r, d, prefix + "0", turns, n)
            if turns == 10000 and d is LLM:
                r[("context", 10000)] = run = pgbench(LLM.context(FIXED), transactions=n, variables={"sid": prefix + "0"})
                say(f"get_context {CONTEXT_BUDGET} tokens of 10,000 turns: {run.cell()} ms")
                swift_memory_row(r, prefix + "0")
            r[("append", d.name, turns)] = run = pgbench(
                d.append(FIXED), transactions=m, variables=dict(PAYLOAD, sid=prefix + "0"))
            say(f"append at {turns} turns, {d.name}: {run.cell()} ms ({m} appends)")
        r[f"h{turns}"] = prefix + "0"
    # The same turn repeated compresses far better than real text: say what the seed's row held.
    r["seed_row"] = [int(x) for x in psql(
        "SELECT pg_column_size(conversation_history), octet_length(conversation_history::text) "
        "FROM bench.seed_sessions WHERE session_id = :'sid'", sid=r["h10000"]).split("|")]


def read_rows(r, d, sid, turns, n):
    whole = max(200, n // 10) if turns >= 1000 else n
    r[("read", d.name, turns)] = run = pgbench(d.read(FIXED), transactions=whole, variables={"sid": sid})
    say(f"whole read of {turns} turns, {d.name}: {run.cell()} ms")
    if d is LLM and turns == 1000:
        r["last20"] = run = pgbench(LLM.read(FIXED, 20), transactions=n, variables={"sid": sid})
        say(f"get_session last_n=20 of 1,000 turns: {run.cell()} ms")
        if HAVE_SWIFT:   # the same reads of the same session through the Swift client
            r["swift_get20"] = swift_bench("get20", sid, n)
            r["swift_get"] = swift_bench("get", sid, whole)


def row_short_reads(r, n):
    prefix = f"{RUN}r20-"
    prefill(STORES, prefix, 0, 20)
    for d in STORES:
        read_rows(r, d, prefix + "0", 20, n)
    r[("context", 20)] = run = pgbench(LLM.context(FIXED), transactions=n, variables={"sid": prefix + "0"})
    say(f"get_context {CONTEXT_BUDGET} tokens of 20 turns: {run.cell()} ms")


def row_lost_turns(r, per_writer):
    """8 writers, each appending per_writer turns to random sessions among 64."""
    for d in STORES:
        prefix = f"{RUN}lost-{d.__class__.__name__.lower()}-"
        prefill([d], prefix, 63, 0)
        script = d.append(RANDOM_64, ledger=True) if d is SEED else d.append(RANDOM_64)
        run = pgbench(script, clients=8, transactions=per_writer, variables=dict(PAYLOAD, prefix=prefix))
        acknowledged = run.processed - run.failed
        stored = d.stored(prefix, 63)
        entry = {"acknowledged": acknowledged, "stored": stored[0], "failed": run.failed}
        if d is SEED:
            entry["ledger"], entry["worst"] = stored[1], stored[2]
            if stored[1] != acknowledged:
                say(f"warning: pgbench acknowledged {acknowledged} seed appends, its ledger holds {stored[1]}")
        if d is MESSAGES:
            entry["messages"] = stored[1]
        if d is LLM:
            entry["turn_count"] = stored[1]
        r[("lost", d.name)] = entry
        say(f"lost turns, {d.name}: {acknowledged} acknowledged, {stored[0]} stored")


def row_swift(r, n):
    """The Swift client appending as pgbench did (one connection, one session that starts empty);
    its reads ran beside pgbench's (read_rows, swift_memory_row)."""
    if not HAVE_SWIFT:
        return
    prefix = f"{RUN}swift-"
    prefill([LLM], prefix, 1, 0)
    # pgbench, then Swift, each n appends to a session of its own that starts empty.
    r["swift_pgbench_append"] = pgbench(LLM.append(FIXED), transactions=n, variables=dict(PAYLOAD, sid=prefix + "0"))
    r["swift"] = {"append": swift_bench("append", prefix + "1", n), "get20": r["swift_get20"], "get": r["swift_get"]}


def swift_memory_row(r, huge):
    """The Swift client's peak memory reading the whole of a 10,000-turn session, against its JSON."""
    if not HAVE_SWIFT:
        return
    json_bytes = int(psql("SELECT octet_length(llm.get_session(:'sid')::text)", sid=huge))
    turns = int(psql("SELECT turn_count FROM llm.sessions WHERE session_id = :'sid'", sid=huge))
    # A reading that did not see the whole session, or saw no growth, is not a measurement: retried once.
    for _ in range(2):
        memory = swift_memory(huge)
        if memory["turns"] == turns and memory["peak_rss_bytes"] > 0:
            break
        say(f"Swift memory reading discarded: {memory}")
    else:
        memory["peak_rss_bytes"] = None
    r["swift_memory"] = {"json_bytes": json_bytes, "peak_rss_bytes": memory["peak_rss_bytes"], "turns": turns}
    say(f"Swift peak memory {(memory['peak_rss_bytes'] or 0) / 1e6:.1f} MB for {json_bytes / 1e6:.1f} MB of JSON")


def swift_bench(op, session_id, iterations):
    """Runs the same call through the Swift client; returns latencies in ms."""
    res = subprocess.run([SWIFT_BENCH, "--op", op, "--session", session_id, "--iterations", str(iterations),
                          "--question", QUESTION, "--response", RESPONSE, "--database-url", CONNINFO],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"llm-sessions-bench failed:\n{res.stderr}")
    return json.loads(res.stdout)["latencies_ms"]


def swift_memory(session_id):
    """Reads the whole session once through the Swift client: {"peak_rss_bytes" (how far its peak RSS rose), "turns"}."""
    res = subprocess.run([SWIFT_BENCH, "--op", "get", "--report-memory", "--session", session_id,
                          "--database-url", CONNINFO], capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"llm-sessions-bench --report-memory failed:\n{res.stderr}")
    return json.loads(res.stdout)


# The stale sessions are this much idle, and only sessions idle for longer than STALE_CUTOFF
# are archived. Both stay under the ten years the pgTAP suite (Tests/sql/cleanup_stale.sql,
# usage_views.sql) reserves for itself: it asserts that no session but its own is idle for
# ten years and archives everything that is, so 20-year-old benchmark sessions would break
# a `make test-sql` running beside this benchmark on the shared database.
STALE_AGE, STALE_CUTOFF = "9 years", "8 years"


# The two ways to archive: the scheduled job's (committed batches, paced: what runs beside
# live traffic) and cleanup_stale in one transaction (for an operator at psql).
ARCHIVERS = (
    ("run_cleanup", "CALL llm.run_cleanup(interval '{cutoff}', policy => 'archive')",
     "CALL llm.run_cleanup (the pg_cron job's call: batches sized to work about 1 ms, committed one by one, busy_share 0.5)"),
    ("cleanup_stale", "SELECT llm.cleanup_stale(interval '{cutoff}', 1000, 'archive')",
     "SELECT llm.cleanup_stale (one transaction, batches of 1,000)"),
)


def row_archive(r, stale_sessions, seconds, clients=2):
    """Appends to live sessions, without archiving and then while each archiver archives stale_sessions."""
    if not SUPERUSER:
        return
    others = int(psql(f"SELECT count(*) FROM llm.sessions WHERE last_query_at < now() - interval '{STALE_CUTOFF}'"))
    if others:
        r["archive"] = {"skipped": f"{others} sessions not made by this run are idle for over {STALE_CUTOFF}: "
                                   "cleanup_stale would archive them too"}
        return
    live = f"{RUN}live-"
    prefill([LLM], live, clients - 1, 0)
    variables = dict(PAYLOAD, prefix=live)
    r["archive"] = {"prefilled": stale_sessions, "clients": clients, "runs": []}
    for name, sql, label in ARCHIVERS:
        stale = f"{RUN}stale-{name}-"
        t0 = time.monotonic()
        # Plain INSERTs as superuser, one turn each, counters consistent with it.
        psql(f"""
            INSERT INTO llm.sessions (session_id, agent_role, turn_count, total_tokens, created_at, last_query_at)
            SELECT :'prefix' || g, 'bench', 1, {TOKENS}, now() - interval '{STALE_AGE}', now() - interval '{STALE_AGE}'
            FROM generate_series(1, {stale_sessions}) g;
            -- Before the turns: their foreign key check is planned at its first row, from these
            -- statistics (stale ones, of a table vacuumed nearly empty, planned it as a scan of
            -- the whole table for every turn).
            ANALYZE llm.sessions;
            INSERT INTO llm.turns (session_id, seq, question, response, tokens, created_at)
            SELECT :'prefix' || g, 1, :'q', :'r', {TOKENS}, now() - interval '{STALE_AGE}'
            FROM generate_series(1, {stale_sessions}) g;
            """, prefix=stale, **PAYLOAD)
        # VACUUM, not only ANALYZE: stale sessions are old, their pages long since vacuumed, and
        # otherwise autovacuum would visit the fresh rows during one of the measurements.
        psql("VACUUM (ANALYZE) llm.sessions, llm.turns")
        checkpoint()
        say(f"archive ({name}): {stale_sessions} stale sessions prefilled in {time.monotonic() - t0:.1f} s")
        if "before" not in r["archive"]:
            before = pgbench(LLM.append(PER_CLIENT), clients=clients, seconds=seconds, variables=variables)
            r["archive"]["before"] = before
            say(f"archive: appends without archiving: {before.cell()} ms")

        cmd = ["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1"] + (["-d", CONNINFO] if CONNINFO else []) + [
            "-c", "SELECT extract(epoch FROM clock_timestamp())",
            "-c", sql.format(cutoff=STALE_CUTOFF),
            "-c", "SELECT extract(epoch FROM clock_timestamp())"]
        cleanup = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        during = []
        try:
            while cleanup.poll() is None:
                during.append(pgbench(LLM.append(PER_CLIENT), clients=clients, seconds=1, variables=variables))
            out, err = cleanup.communicate()
        finally:
            if cleanup.poll() is None:
                cleanup.terminate()
                cleanup.wait()
        if cleanup.returncode != 0:
            raise BenchError(f"{name} failed: {err.strip()}")
        start, archived, end = out.split()
        start, end = float(start), float(end)
        lat = [l for run in during for l, e in zip(run.latencies, run.ends) if start <= e <= end]
        r["archive"]["runs"].append({"name": name, "label": label, "during": lat, "archived": int(archived),
                                     "seconds": end - start})
        say(f"archive ({name}): {archived} sessions in {end - start:.1f} s; appends during: "
            f"{pct(lat, 50) if lat else float('nan'):.2f} / {pct(lat, 99) if lat else float('nan'):.2f} ms")
        psql("DELETE FROM llm.archived_sessions WHERE session_id LIKE :'prefix' || '%'", prefix=RUN)


# --- the report -------------------------------------------------------------------------------------

def target(rows, what, measured, ok):
    rows.append(f"| {what} | {measured} | {'PASS' if ok else '**MISS**'} |")


def report(r, params):
    L = []
    tp = lambda d, c: r[("tps", d.name, c)].tps
    L += ["### Append throughput (tps; each client appends to its own session, which starts empty)", "",
          "| clients | SELECT 1 | " + " | ".join(d.name for d in APPENDERS) + " | llm-sessions / bare |",
          "|---:|---:|" + "---:|" * len(APPENDERS) + "---:|"]
    for c in (1, 8):
        s1 = r["select1"].tps if c == 1 else r["select1_8"].tps
        L.append(f"| {c} | {s1:.0f} | " + " | ".join(f"{tp(d, c):.0f}" for d in APPENDERS) +
                 f" | {tp(LLM, c) / tp(BARE, c):.2f}x |")
    L += ["", f"(The seed's sessions had grown to {r[('seed_turns', 1)]} turns (1 client) and "
              f"{r[('seed_turns', 8)]} turns (8 clients) by the end: its append slows as its row grows.)", ""]

    L += ["### Append latency by history already stored (ms, p50 / p99, 1 client)", "",
          "| history | " + " | ".join(d.name for d in APPENDERS) + " |", "|---|" + "---:|" * len(APPENDERS)]
    for turns in (0, 1000, 10000):
        cells = [r[("append", d.name, turns)].cell() + f" ({len(r[('append', d.name, turns)].latencies)})"
                 if ("append", d.name, turns) in r else "-" for d in APPENDERS]
        L.append(f"| {turns:,} turns | " + " | ".join(cells) + " |")
    stored, text = r["seed_row"]
    L += ["", f"(In brackets: appends measured. SELECT 1: {r['select1'].cell()} ms. The seed's 10,000-turn row is "
              f"{text / 1e6:.1f} MB of JSON each way per append, stored in {stored / 1e6:.2f} MB: the identical turn "
              "compresses far better than real conversations would, which flatters the seed's write.)", ""]

    L += ["### Read latency (ms, p50 / p99, 1 client)", "",
          "| read | " + " | ".join(d.name for d in STORES) + " |", "|---|" + "---:|" * len(STORES)]
    for turns in (20, 1000):
        L.append(f"| whole history, {turns:,} turns | " + " | ".join(r[("read", d.name, turns)].cell() for d in STORES) + " |")
    L.append(f"| newest 20 of 1,000 turns | - | - | {r['last20'].cell()} |")
    L.append(f"| get_context {CONTEXT_BUDGET:,} tokens (20 turns), 20-turn session | - | - | {r[('context', 20)].cell()} |")
    L.append(f"| get_context {CONTEXT_BUDGET:,} tokens (20 turns), 10,000-turn session | - | - | {r[('context', 10000)].cell()} |")
    L.append("")

    L += [f"### Lost turns: 8 writers, {params['per_writer']} appends each to random sessions among 64", "",
          "| design | acknowledged appends | turns stored | lost | lost % | most lost on one session |",
          "|---|---:|---:|---:|---:|---:|"]
    for d in STORES:
        e = r[("lost", d.name)]
        lost = e["acknowledged"] - e["stored"]
        L.append(f"| {d.name} | {e['acknowledged']} | {e['stored']} | {lost} | {100.0 * lost / e['acknowledged']:.1f}% | "
                 f"{e['worst'] if d is SEED else '-'} |")
    L.append("")

    a = r.get("archive")
    if a and "skipped" in a:
        L += ["### Archiving", "", f"Not measured: {a['skipped']}.", ""]
    elif a:
        L += [f"### Appends ({a['clients']} clients, live sessions) while {a['prefilled']:,} stale one-turn sessions "
              "are archived", "",
              "| | archived | in s | appends | p50 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|",
              f"| without archiving | - | - | {len(a['before'].latencies)} | {a['before'].p50:.2f} | {a['before'].p99:.2f} |"]
        for run in a["runs"]:
            lat = run["during"]
            L.append(f"| during {run['label']} | {run['archived']:,} | {run['seconds']:.1f} | {len(lat)} | "
                     + (f"{pct(lat, 50):.2f} | {pct(lat, 99):.2f} |" if lat else "- | - |"))
        L.append("")

    sw = r.get("swift")
    if sw:
        pairs = [("append_turn", sw["append"], r["swift_pgbench_append"]),
                 ("get_session last_n=20 of 1,000 turns", sw["get20"], r["last20"]),
                 ("get_session whole 1,000 turns", sw["get"], r[("read", LLM.name, 1000)])]
        L += ["### Swift client vs pgbench, same call (ms)", "",
              "| call | pgbench p50 | pgbench p99 | Swift p50 | Swift p99 | Swift/pgbench p50 |",
              "|---|---:|---:|---:|---:|---:|"]
        for name, lat, run in pairs:
            L.append(f"| {name} | {run.p50:.3f} | {run.p99:.3f} | {pct(lat, 50):.3f} | {pct(lat, 99):.3f} | "
                     f"{pct(lat, 50) / run.p50:.2f}x |")
        m = r["swift_memory"]
        peak = m["peak_rss_bytes"]
        L += ["", "| Swift client memory | JSON received | peak RSS growth | peak / JSON |", "|---|---:|---:|---:|",
              f"| get_session whole, {m['turns']:,} turns | {m['json_bytes'] / 1e6:.1f} MB | " +
              (f"{peak / 1e6:.1f} MB | {peak / m['json_bytes']:.2f}x |" if peak else "not measured | - |"), ""]
    else:
        L += ["(Swift client not measured: llm-sessions-bench was not built)", ""]

    T = ["### Targets", "", "| target | measured | |", "|---|---|---|"]
    ratio = tp(LLM, 8) / tp(BARE, 8)
    target(T, "llm-sessions append throughput, 8 clients >= 0.7x bare INSERT",
           f"{tp(LLM, 8):.0f} vs {tp(BARE, 8):.0f} tps = {ratio:.2f}x", ratio >= 0.7)
    a0, a10 = r[("append", LLM.name, 0)].p50, r[("append", LLM.name, 10000)].p50
    target(T, "append p50 at 10,000 turns within 1.2x of at 0", f"{a10:.2f} vs {a0:.2f} ms = {a10 / a0:.2f}x", a10 / a0 <= 1.2)
    w, s = r[("read", LLM.name, 1000)].p50, r[("read", SEED.name, 1000)].p50
    target(T, "whole 1,000-turn read no slower than the seed's one-row read", f"{w:.2f} vs {s:.2f} ms = {w / s:.2f}x", w <= s)
    l20 = r["last20"].p50
    target(T, "last_n=20 of 1,000 at least 10x faster than the seed's whole read",
           f"{l20:.2f} vs {s:.2f} ms = {s / l20:.1f}x faster", s / l20 >= 10)
    e = r[("lost", LLM.name)]
    lost = e["acknowledged"] - e["stored"]
    target(T, "zero lost turns (llm-sessions)", f"{lost} of {e['acknowledged']} (turn_count sum {e['turn_count']})",
           lost == 0 and e["turn_count"] == e["stored"])
    c20, c10k = r[("context", 20)].p50, r[("context", 10000)].p50
    target(T, "get_context on 10,000 turns within 1.5x of on 20", f"{c10k:.2f} vs {c20:.2f} ms = {c10k / c20:.2f}x",
           c10k / c20 <= 1.5)
    if a and "skipped" not in a and a["runs"][0]["during"]:
        # The target is about archiving beside live traffic: the scheduled job's call (run_cleanup).
        pd, pb = pct(a["runs"][0]["during"], 99), a["before"].p99
        target(T, "appends' p99 during archiving (run_cleanup) within 3x of without",
               f"{pd:.2f} vs {pb:.2f} ms = {pd / pb:.2f}x", pd / pb <= 3)
    if sw:
        for name, lat, run in pairs:
            q = pct(lat, 50) / run.p50
            target(T, f"Swift within 1.2x of pgbench: {name}", f"{q:.2f}x", q <= 1.2)
        if peak:
            target(T, "Swift peak memory <= 3x the JSON", f"{peak / m['json_bytes']:.2f}x", peak / m["json_bytes"] <= 3)
        else:
            target(T, "Swift peak memory <= 3x the JSON", "no valid reading", False)
    return L + T


def cleanup():
    """Drops the scratch schema and this run's sessions, live and archived; retried while the
    server is briefly unavailable (the shared server also runs crash tests)."""
    say("cleaning up")
    for attempt in range(6):
        try:
            psql("DROP SCHEMA IF EXISTS bench CASCADE")
            if SUPERUSER:
                psql("DELETE FROM llm.sessions WHERE session_id LIKE :'prefix' || '%';"
                     "DELETE FROM llm.archived_sessions WHERE session_id LIKE :'prefix' || '%'", prefix=RUN)
            else:
                psql("SELECT count(llm.end_session(s.session_id)) FROM llm.sessions s "
                     "WHERE s.session_id LIKE :'prefix' || '%'", prefix=RUN)
            return
        except BenchError as e:
            say(f"cleanup failed ({str(e).splitlines()[0]}); retrying in 5 s")
            time.sleep(5)
    say(f"cleanup gave up: drop schema bench and delete the sessions {RUN}* by hand")


def main():
    global SUPERUSER
    parser = argparse.ArgumentParser(description="make bench: the llm-sessions benchmark report")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few iterations, short rows, 10,000 stale sessions")
    quick = parser.parse_args().quick or os.environ.get("BENCH_QUICK") == "1"
    n = int(os.environ.get("BENCH_ITERATIONS", "200" if quick else "2000"))
    seconds = int(os.environ.get("BENCH_SECONDS", "2" if quick else "10"))
    stale = int(os.environ.get("BENCH_STALE_SESSIONS", "10000" if quick else "100000"))
    params = {"n": n, "seconds": seconds, "stale": stale, "per_writer": max(50, n // 10),
              "seed_at_10k": 5 if quick else 20}

    os.makedirs(OUT, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so that the cleanup below runs
    SUPERUSER = psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "t"
    server = psql("SELECT current_setting('server_version') || ', fsync=' || current_setting('fsync') || "
                  "', synchronous_commit=' || current_setting('synchronous_commit') || "
                  "', wal_sync_method=' || current_setting('wal_sync_method') || "
                  "', shared_buffers=' || current_setting('shared_buffers')")
    load = os.getloadavg()[0]
    started = time.monotonic()
    print(f"==> llm-sessions bench{' (quick)' if quick else ''}: {n} calls per latency row, {seconds} s per "
          f"throughput row, payload {len(QUESTION)}+{len(RESPONSE)} chars, session ids {RUN}*", file=sys.stderr)
    try:
        create_schema()
    except BenchError as e:
        sys.exit(f"error: could not create schema bench ({e}).\nAnother make bench may be running; if not, a killed "
                 "run left it behind: DROP SCHEMA bench CASCADE.")
    r = {}
    try:
        # Nothing else runs now (the schema is ours): what a killed run left is removed.
        leftovers = psql("DELETE FROM llm.sessions WHERE agent_role = 'bench' AND session_id LIKE 'bench-%' RETURNING 1;"
                         "DELETE FROM llm.archived_sessions WHERE agent_role = 'bench' AND session_id LIKE 'bench-%' "
                         "RETURNING 1" if SUPERUSER else "SELECT").count("1")
        if leftovers:
            say(f"removed {leftovers} sessions left by an earlier, interrupted run")
        row_physical_limit(r, n, seconds)
        row_throughput(r, seconds)
        row_short_reads(r, n)
        row_append_latency(r, n, params["seed_at_10k"])
        row_lost_turns(r, params["per_writer"])
        row_swift(r, n)
        row_archive(r, stale, seconds)
    finally:
        cleanup()

    head = [f"## llm-sessions bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}{' (--quick)' if quick else ''}", "",
            f"PostgreSQL {server}; {os.cpu_count()} cores, load average {load:.2f} at the start and "
            f"{os.getloadavg()[0]:.2f} at the end; unix socket; pgbench -M prepared. One turn everywhere: a "
            f"{len(QUESTION)}-character question, a {len(RESPONSE)}-character response, {TOKENS} tokens. "
            f"Latency rows: {n} calls (whole reads of 1,000 turns: {max(200, n // 10)}); throughput rows: {seconds} s. "
            f"Run time {time.monotonic() - started:.0f} s.", ""]
    text = "\n".join(head + report(r, params))
    print(text)
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        sys.exit(f"error: {e}")
