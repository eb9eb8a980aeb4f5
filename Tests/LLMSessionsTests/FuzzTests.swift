import Foundation
import Testing
@testable import LLMSessions

/// Property-based test: random sequences of API calls from several concurrent tasks, through
/// `SessionStore` and through raw SQL as the superuser (pop, fork, export/import, archive by
/// backdating and cleanup, restore, purge), with the invariants checked after every step:
///
/// - every session's `turn_count` equals the number of its turns and `total_tokens` their sum,
///   live and archived alike;
/// - `seq` runs 1...n without gaps;
/// - no session id is both live and archived, and no turn is without its session;
/// - a replayed append (a `requestID` seen before) adds nothing;
/// - each task's own sessions hold exactly what a model of the calls predicts (every turn's seq,
///   tokens and request id, the counters, pinned, live or archived);
/// - the sessions all tasks append to and pop from at once end with exactly as many turns as
///   appends that were not replays, minus pops that removed one.
///
/// The random choices come from a seeded generator; the seed is printed, and named in every
/// failure. `LLM_FUZZ_SEED=<seed> swift test --filter FuzzTests` replays each task's sequence
/// of calls (their interleaving across tasks is up to the scheduler). `LLM_FUZZ_STEPS` sets
/// the steps per task (default 300).
///
/// Isolation on the shared test database: every id starts with this run's prefix. Archiving
/// backdates the task's own sessions by 200 years and runs `cleanup_stale('150 years')` in the
/// same transaction, so no other suite's age-based cleanup ever sees them old, and this cleanup
/// reaches nothing of theirs (the oldest any other suite goes is about 55 years, 110 for
/// archiving times); purging does the same with archiving times 300 years back and
/// `purge_archive('250 years')`. Everything the run made is removed at the end.
@Suite("Fuzz: random call sequences from concurrent tasks keep the invariants")
struct FuzzTests {
    static let tasks = 4

    @Test("random API call sequences, checked after every step")
    func randomSequences() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["LLM_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        let steps = environment["LLM_FUZZ_STEPS"].flatMap(Int.init) ?? 300
        print("FuzzTests: seed \(seed), \(Self.tasks) tasks x \(steps) steps (replay with LLM_FUZZ_SEED=\(seed))")

        let run = FuzzRun(prefix: "tap-fuzz-\(UUID().uuidString.prefix(8).lowercased())", seed: seed,
                          store: try TestDatabase.makeStore(poolSize: Self.tasks),
                          admin: try TestDatabase.makeStore(poolSize: Self.tasks, applicationName: "llm-sessions-fuzz-admin"))
        defer { Task { await run.store.close(); await run.admin.close() } }
        do {
            try await run.setUp()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<Self.tasks {
                    group.addTask {
                        var task = FuzzTask(run: run, index: index)
                        try await task.run(steps: steps)
                    }
                }
                try await group.waitForAll()
            }
            try await run.checkShared()
            try await run.checkInvariants(after: "the run")
            let counts = run.callCounts
            print("FuzzTests: calls \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
            if steps >= 300 {
                // Not vacuous: every kind of call ran (each has several percent of 1200 steps).
                let kinds = ["create", "append", "replay", "append expecting", "read", "pop", "fork", "end", "pin", "archive",
                             "restore", "purge", "import", "list", "hostile", "shared append", "shared pop"]
                #expect(kinds.filter { counts[$0, default: 0] == 0 } == [], "seed \(seed): \(counts)")
            }
        } catch {
            try? await run.removeEverything()
            if !(error is FuzzFailure) { Issue.record("seed \(seed): \(error)") }
            return
        }
        try await run.removeEverything()
        #expect(try await run.admin.superuserRows(
            "SELECT count(*)::text FROM (SELECT session_id FROM llm.sessions UNION ALL SELECT session_id FROM llm.archived_sessions) x WHERE session_id LIKE $1 || '%'",
            [run.prefix]).first?.first == "0", "the run leaves nothing behind")
    }
}

/// Thrown after a failure has been recorded, to stop the task that found it.
struct FuzzFailure: Error {}

/// A SplitMix64 generator: small, fast, and the same sequence for the same seed everywhere.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What the tasks share: the stores, the prefix, and the counters of the shared sessions.
final class FuzzRun: @unchecked Sendable {
    let prefix: String
    let seed: UInt64
    let store: SessionStore
    let admin: SessionStore
    var role: String { prefix }
    var shared: [String] { [prefix + "-shared-0", prefix + "-shared-1"] }

    private let lock = NSLock()
    /// How many times each kind of call ran, over all tasks.
    private var calls: [String: Int] = [:]
    /// Per shared session: appends that stored a turn, and pops that removed one.
    private var sharedAppends: [String: Int] = [:]
    private var sharedPops: [String: Int] = [:]

    init(prefix: String, seed: UInt64, store: SessionStore, admin: SessionStore) {
        self.prefix = prefix
        self.seed = seed
        self.store = store
        self.admin = admin
    }

    func setUp() async throws {
        for id in shared { _ = try await store.createSession(agentRole: role, sessionID: id) }
    }

    func count(call kind: String) { lock.withLock { calls[kind, default: 0] += 1 } }
    var callCounts: [String: Int] { lock.withLock { calls } }

    func count(append sessionID: String) { lock.withLock { sharedAppends[sessionID, default: 0] += 1 } }
    func count(pop sessionID: String) { lock.withLock { sharedPops[sessionID, default: 0] += 1 } }

    /// The shared sessions hold one turn per stored append not popped since, and each request id once.
    func checkShared() async throws {
        for id in shared {
            let expected = lock.withLock { sharedAppends[id, default: 0] - sharedPops[id, default: 0] }
            let rows = try await admin.superuserRows(
                "SELECT turn_count::text, (SELECT count(*) - count(DISTINCT request_id) FROM llm.turns WHERE session_id = $1 AND request_id IS NOT NULL)::text FROM llm.sessions WHERE session_id = $1",
                [id])
            if rows.first != [String(expected), "0"] {
                Issue.record("seed \(seed): shared session \(id): (turn_count, duplicate request ids) = \(String(describing: rows.first)), expected (\(expected), 0)")
                throw FuzzFailure()
            }
        }
    }

    /// The invariants over every session of the run, live and archived; records an issue and throws on a violation.
    func checkInvariants(after step: String) async throws {
        let violations = try await admin.superuserRows("""
            SELECT v FROM (
              SELECT 'counters or seq of ' || s.session_id AS v
              FROM llm.sessions s, LATERAL (SELECT count(*) AS n, COALESCE(sum(t.tokens), 0) AS tokens,
                                                   COALESCE(min(t.seq), 1) AS lo, COALESCE(max(t.seq), 0) AS hi
                                            FROM llm.turns t WHERE t.session_id = s.session_id) c
              WHERE s.session_id LIKE $1 || '%' AND (s.turn_count <> c.n OR s.total_tokens <> c.tokens OR c.lo <> 1 OR c.hi <> c.n)
              UNION ALL
              SELECT 'archived counters or seq of ' || a.session_id
              FROM llm.archived_sessions a, LATERAL (SELECT count(*) AS n, COALESCE(sum(t.tokens), 0) AS tokens,
                                                            COALESCE(min(t.seq), 1) AS lo, COALESCE(max(t.seq), 0) AS hi
                                                     FROM llm.archived_turns t WHERE t.session_id = a.session_id) c
              WHERE a.session_id LIKE $1 || '%' AND (a.turn_count <> c.n OR a.total_tokens <> c.tokens OR c.lo <> 1 OR c.hi <> c.n)
              UNION ALL
              SELECT 'live and archived: ' || s.session_id FROM llm.sessions s JOIN llm.archived_sessions a USING (session_id)
              WHERE s.session_id LIKE $1 || '%'
              UNION ALL
              SELECT 'orphan turn of ' || t.session_id FROM llm.turns t
              WHERE t.session_id LIKE $1 || '%' AND NOT EXISTS (SELECT FROM llm.sessions s WHERE s.session_id = t.session_id)
              UNION ALL
              SELECT 'orphan archived turn of ' || t.session_id FROM llm.archived_turns t
              WHERE t.session_id LIKE $1 || '%' AND NOT EXISTS (SELECT FROM llm.archived_sessions a WHERE a.session_id = t.session_id)
              UNION ALL
              SELECT 'request id twice in archived ' || t.session_id FROM llm.archived_turns t
              WHERE t.session_id LIKE $1 || '%' AND t.request_id IS NOT NULL GROUP BY t.session_id, t.request_id HAVING count(*) > 1
            ) x ORDER BY v
            """, [prefix])
        if !violations.isEmpty {
            Issue.record("seed \(seed): invariants broken after \(step): \(violations.map { $0.first.flatMap { $0 } ?? "?" })")
            throw FuzzFailure()
        }
    }

    /// Ends every live session of the run and deletes its archived ones.
    func removeEverything() async throws {
        try await admin.superuserRows("DELETE FROM llm.sessions WHERE session_id LIKE $1 || '%'", [prefix])
        try await admin.superuserRows("DELETE FROM llm.archived_sessions WHERE session_id LIKE $1 || '%'", [prefix])
    }
}

/// One turn of the model: what seq `index + 1` of a session must hold.
struct ModelTurn: Equatable {
    var tokens: Int
    var requestID: String?
}

/// One session of the model.
struct ModelSession: Equatable {
    var turns: [ModelTurn] = []
    var pinned = false
    var archived = false

    /// The session as `FuzzTask.describe` reads it from the database.
    var description: String {
        let list = turns.enumerated().map { "\($0.offset + 1):\($0.element.tokens):\($0.element.requestID ?? "-")" }
        return "\(archived ? "archived" : "live")|\(turns.count)|\(turns.reduce(0) { $0 + $1.tokens })|\(pinned)|\(list.joined(separator: ","))"
    }
}

/// One task of the run: its own sessions, their model, and a generator seeded from the run's seed.
struct FuzzTask {
    let run: FuzzRun
    let index: Int
    var random: SeededGenerator
    var sessions: [String: ModelSession] = [:]
    var nextNumber = 0
    var nextRequest = 0
    var history: [String] = []

    init(run: FuzzRun, index: Int) {
        self.run = run
        self.index = index
        self.random = SeededGenerator(seed: run.seed &+ UInt64(index) &* 0x1000_0000_01B3)
    }

    var store: SessionStore { run.store }

    mutating func newID() -> String {
        nextNumber += 1
        return "\(run.prefix)-t\(index)-\(nextNumber)"
    }

    mutating func newRequestID() -> String {
        nextRequest += 1
        return "t\(index)-r\(nextRequest)"
    }

    mutating func pick(live: Bool = true, unpinned: Bool = false) -> String? {
        let candidates = sessions.filter { $0.value.archived != live && (!unpinned || !$0.value.pinned) }.keys.sorted()
        return candidates.isEmpty ? nil : candidates[Int.random(in: 0..<candidates.count, using: &random)]
    }

    mutating func run(steps: Int) async throws {
        for step in 1...steps {
            let touched = try await perform(step: step)
            run.count(call: kindOfLastCall)
            let label = "task \(index) step \(step) (\(history.last ?? "?"))"
            for id in touched { try await verify(id, after: label) }
            try await run.checkInvariants(after: label)
        }
        for id in sessions.keys.sorted() { try await verify(id, after: "task \(index)'s last step") }
    }

    /// The kind of the last call made, from its history entry ("append expecting", "shared pop", ...).
    var kindOfLastCall: String {
        let words = (history.last ?? "?").split(separator: " ")
        if words.count > 1, words[0] == "shared" { return "shared \(words[1])" }
        if words.count > 2, words[0] == "append", words[2] == "expecting" { return "append expecting" }
        return String(words.first ?? "?")
    }

    /// Records a failure with the seed and the task's recent calls, and stops the task.
    func fail(_ message: String) -> FuzzFailure {
        Issue.record("seed \(run.seed), task \(index): \(message)\nlast calls: \(history.suffix(8).joined(separator: " | "))")
        return FuzzFailure()
    }

    /// The database's view of one of the task's sessions, in `ModelSession.description`'s format ("none" when gone).
    func describe(_ id: String) async throws -> String {
        let rows = try await run.admin.superuserRows("""
            SELECT 'live|' || s.turn_count || '|' || s.total_tokens || '|' || s.pinned || '|' ||
                   COALESCE((SELECT string_agg(t.seq || ':' || t.tokens || ':' || COALESCE(t.request_id, '-'), ',' ORDER BY t.seq)
                             FROM llm.turns t WHERE t.session_id = s.session_id), '')
            FROM llm.sessions s WHERE s.session_id = $1
            UNION ALL
            SELECT 'archived|' || a.turn_count || '|' || a.total_tokens || '|' || a.pinned || '|' ||
                   COALESCE((SELECT string_agg(t.seq || ':' || t.tokens || ':' || COALESCE(t.request_id, '-'), ',' ORDER BY t.seq)
                             FROM llm.archived_turns t WHERE t.session_id = a.session_id), '')
            FROM llm.archived_sessions a WHERE a.session_id = $1
            """, [id])
        return rows.map { $0.first.flatMap { $0 } ?? "NULL" }.joined(separator: " AND ").nonEmpty ?? "none"
    }

    func verify(_ id: String, after label: String) async throws {
        let actual = try await describe(id)
        let expected = sessions[id]?.description ?? "none"
        if actual != expected { throw fail("\(id) after \(label):\n  database: \(actual)\n  model:    \(expected)") }
    }

    /// Runs one random call; returns the ids of the task's sessions it may have changed.
    mutating func perform(step: Int) async throws -> [String] {
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<8:
            return try await create()
        case 8..<30:
            return try await append()
        case 30..<36:
            return try await replay()
        case 36..<40:
            return try await appendExpecting()
        case 40..<45:
            return try await read()
        case 45..<50:
            return try await pop()
        case 50..<54:
            return try await fork()
        case 54..<57:
            return try await end()
        case 57..<61:
            return try await pin()
        case 61..<65:
            return try await archive()
        case 65..<69:
            return try await restore()
        case 69..<71:
            return try await purge()
        case 71..<75:
            return try await importCopy()
        case 75..<78:
            return try await list()
        case 78..<82:
            return try await hostile()
        case 82..<94:
            return try await sharedAppend()
        default:
            return try await sharedPop()
        }
    }

    // MARK: - Calls through SessionStore

    mutating func create() async throws -> [String] {
        let id = newID()
        history.append("create \(id)")
        let session = try await store.createSession(agentRole: run.role, startupContext: "task \(index)", sessionID: id,
                                                    metadata: ["n": .integer(Int64(nextNumber))])
        guard session.sessionID == id, session.turnCount == 0 else { throw fail("create returned \(session)") }
        sessions[id] = ModelSession()
        return [id]
    }

    mutating func append() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let tokens = Int.random(in: 0...1000, using: &random)
        let requestID = Bool.random(using: &random) ? newRequestID() : nil
        history.append("append \(id) \(tokens) \(requestID ?? "-")")
        let appended = try await store.appendTurn(to: id, question: "q\(tokens)", response: "r", tokens: tokens, requestID: requestID)
        sessions[id]!.turns.append(ModelTurn(tokens: tokens, requestID: requestID))
        let model = sessions[id]!
        guard !appended.replayed, appended.turn.seq == model.turns.count, appended.turnCount == model.turns.count,
              appended.totalTokens == model.turns.reduce(0, { $0 + $1.tokens })
        else { throw fail("append returned \(appended), model has \(model.turns.count) turns") }
        return [id]
    }

    /// Repeats an append whose request id is stored: the stored turn comes back, nothing is added.
    mutating func replay() async throws -> [String] {
        let candidates = sessions.filter { !$0.value.archived && $0.value.turns.contains { $0.requestID != nil } }.keys.sorted()
        guard !candidates.isEmpty else { return try await append() }
        let id = candidates[Int.random(in: 0..<candidates.count, using: &random)]
        let stored = sessions[id]!.turns.enumerated().filter { $0.element.requestID != nil }
        let (offset, turn) = stored[Int.random(in: 0..<stored.count, using: &random)]
        history.append("replay \(id) \(turn.requestID!)")
        // Different texts, tokens and a stale expected count: the stored turn wins regardless.
        let replayed = try await store.appendTurn(to: id, question: "other", response: "other", tokens: 999_999,
                                                  expectedTurnCount: 0, requestID: turn.requestID)
        guard replayed.replayed, replayed.turn.seq == offset + 1, replayed.turn.tokens == turn.tokens,
              replayed.turnCount == sessions[id]!.turns.count
        else { throw fail("replay returned \(replayed), expected seq \(offset + 1)") }
        return [id]
    }

    mutating func appendExpecting() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let count = sessions[id]!.turns.count
        let stale = Bool.random(using: &random)
        let expected = stale ? count + Int.random(in: 1...3, using: &random) : count
        history.append("append \(id) expecting \(expected)")
        do {
            try await store.appendTurn(to: id, question: "q", response: "r", tokens: 1, expectedTurnCount: expected)
            guard !stale else { throw fail("a stale expectedTurnCount \(expected) (actual \(count)) was accepted") }
            sessions[id]!.turns.append(ModelTurn(tokens: 1, requestID: nil))
        } catch SessionStoreError.conflict(let sessionID, let wanted, let actual) {
            guard stale, sessionID == id, wanted == expected, actual == count else {
                throw fail("conflict(\(sessionID), \(wanted), \(actual)) for expected \(expected), actual \(count)")
            }
        }
        return [id]
    }

    mutating func read() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let model = sessions[id]!
        let lastN = Bool.random(using: &random) ? Int.random(in: 0...(model.turns.count + 2), using: &random) : nil
        history.append("read \(id) lastN \(lastN.map(String.init) ?? "-")")
        guard let session = try await store.session(id, lastN: lastN) else { throw fail("\(id) is not found") }
        let shown = lastN.map { min($0, model.turns.count) } ?? model.turns.count
        let expected = Array(model.turns.enumerated().suffix(shown)).map { "\($0.offset + 1):\($0.element.tokens):\($0.element.requestID ?? "-")" }
        let got = session.conversationHistory.map { "\($0.seq):\($0.tokens):\($0.requestID ?? "-")" }
        guard got == expected, session.turnCount == model.turns.count, session.pinned == model.pinned
        else { throw fail("read \(id): \(got), expected \(expected)") }
        return []
    }

    mutating func end() async throws -> [String] {
        guard let id = pick() else { return [] }
        history.append("end \(id)")
        guard try await store.endSession(id) else { throw fail("end \(id) found no session") }
        sessions[id] = nil
        guard try await !store.endSession(id) else { throw fail("a second end of \(id) found it again") }
        return [id]
    }

    mutating func pin() async throws -> [String] {
        guard let id = pick() else { return [] }
        let pinned = !sessions[id]!.pinned
        history.append("pin \(id) \(pinned)")
        let summary = try await store.pinSession(id, pinned: pinned)
        guard summary.pinned == pinned else { throw fail("pin returned \(summary)") }
        sessions[id]!.pinned = pinned
        return [id]
    }

    mutating func list() async throws -> [String] {
        let limit = Int.random(in: 1...7, using: &random)
        history.append("list limit \(limit)")
        var seen: [String] = []
        var page = try await store.listSessions(agentRole: run.role, limit: limit)
        seen += page.sessions.map(\.sessionID)
        var pages = 1
        while let next = page.next, pages < 10_000 {
            page = try await store.listSessions(agentRole: run.role, limit: limit, after: next)
            seen += page.sessions.map(\.sessionID)
            pages += 1
        }
        // Other tasks change their sessions meanwhile; this task's own are listed exactly once each.
        let mine = seen.filter { $0.hasPrefix("\(run.prefix)-t\(index)-") }
        let live = sessions.filter { !$0.value.archived }.keys
        guard mine.count == Set(mine).count, Set(mine) == Set(live) else {
            throw fail("list showed \(mine.sorted()), live are \(live.sorted())")
        }
        return []
    }

    /// Bad input through the store: refused, and nothing changes (the step's verify checks the session).
    mutating func hostile() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let kind = Int.random(in: 0..<4, using: &random)
        history.append("hostile \(kind) on \(id)")
        do {
            switch kind {
            case 0: try await store.appendTurn(to: id, question: "q", response: "r", tokens: -1)
            case 1: try await store.appendTurn(to: id, question: "q\u{0}", response: "r")
            case 2: try await store.appendTurn(to: id, question: "q", response: "r", requestID: " ")
            default: _ = try await store.forkSession(id, atSeq: sessions[id]!.turns.count + 1, newSessionID: newID())
            }
            throw fail("hostile call \(kind) was accepted")
        } catch SessionStoreError.invalidArgument {
            return [id]
        }
    }

    // MARK: - Raw SQL as the superuser

    mutating func pop() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let viaStore = Bool.random(using: &random)
        history.append("pop \(id) \(viaStore ? "store" : "sql")")
        let seq: Int?
        if viaStore {
            seq = try await store.popTurn(from: id)?.turn.seq
        } else {
            seq = try await run.admin.superuserRows("SELECT (llm.pop_turn($1) ->> 'seq')", [id]).first?.first.flatMap { $0 }.flatMap { Int($0) }
        }
        let count = sessions[id]!.turns.count
        guard seq == (count == 0 ? nil : count) else { throw fail("pop returned seq \(String(describing: seq)) of \(count) turns") }
        if count > 0 { sessions[id]!.turns.removeLast() }
        return [id]
    }

    mutating func fork() async throws -> [String] {
        guard let id = pick() else { return try await create() }
        let parent = sessions[id]!
        let atSeq = Int.random(in: 0...parent.turns.count, using: &random)
        let forkID = newID()
        history.append("fork \(id) at \(atSeq) -> \(forkID)")
        let rows = try await run.admin.superuserRows(
            "SELECT (llm.fork_session($1, $2::integer, $3) ->> 'turn_count')", [id, String(atSeq), forkID])
        guard rows.first?.first == String(atSeq) else { throw fail("fork returned \(rows)") }
        sessions[forkID] = ModelSession(turns: Array(parent.turns.prefix(atSeq)))
        return [id, forkID]
    }

    /// Backdates some of the task's unpinned live sessions 200 years and archives them, in one transaction.
    mutating func archive() async throws -> [String] {
        let live = sessions.filter { !$0.value.archived && !$0.value.pinned }.keys.sorted()
        guard !live.isEmpty else { return try await create() }
        let chosen = live.filter { _ in Int.random(in: 0..<3, using: &random) == 0 }
        let pinned = sessions.filter { !$0.value.archived && $0.value.pinned }.keys.sorted()
        history.append("archive \(chosen)")
        let arrays = [TestDatabase.postgresArray(chosen), TestDatabase.postgresArray(pinned)]
        let removed = try await run.admin.superuserTransaction { connection throws(DatabaseFailure) -> String? in
            // The pinned ones are backdated too, and must stay: set back to now before commit.
            try connection.query("UPDATE llm.sessions SET last_query_at = now() - interval '200 years' WHERE session_id = ANY ($1::text[]) OR session_id = ANY ($2::text[])", arrays)
            let removed = try connection.query("SELECT llm.cleanup_stale(interval '150 years', 1000, 'archive')::text").singleValue
            try connection.query("UPDATE llm.sessions SET last_query_at = now() WHERE session_id = ANY ($1::text[])", [arrays[1]])
            return removed
        }
        guard removed == String(chosen.count) else { throw fail("cleanup archived \(removed ?? "NULL"), chose \(chosen.count)") }
        for id in chosen { sessions[id]!.archived = true }
        return chosen + pinned
    }

    /// Restores an archived session and marks it active (restore keeps its 200-year-old activity).
    mutating func restore() async throws -> [String] {
        guard let id = pick(live: false) else { return try await archive() }
        history.append("restore \(id)")
        let restored = try await run.admin.superuserTransaction { connection throws(DatabaseFailure) -> String? in
            let summary = try connection.query("SELECT llm.restore_session($1) ->> 'turn_count'", [id]).singleValue
            try connection.query("UPDATE llm.sessions SET last_query_at = now() WHERE session_id = $1", [id])
            return summary
        }
        guard restored == String(sessions[id]!.turns.count) else { throw fail("restore returned turn_count \(restored ?? "NULL")") }
        sessions[id]!.archived = false
        // Restoring a live id is refused, and changes nothing.
        do {
            _ = try await store.restoreSession(id)
            throw fail("restoring the live \(id) was accepted")
        } catch SessionStoreError.duplicateSession(let sessionID) where sessionID == id {}
        return [id]
    }

    /// Purges one archived session: its archiving time goes 300 years back, then purge_archive('250 years').
    mutating func purge() async throws -> [String] {
        guard let id = pick(live: false) else { return try await archive() }
        history.append("purge \(id)")
        let purged = try await run.admin.superuserTransaction { connection throws(DatabaseFailure) -> String? in
            try connection.query("UPDATE llm.archived_sessions SET archived_at = now() - interval '300 years' WHERE session_id = $1", [id])
            return try connection.query("SELECT llm.purge_archive(interval '250 years', 1)::text").singleValue
        }
        guard purged == "1" else { throw fail("purge removed \(purged ?? "NULL")") }
        sessions[id] = nil
        return [id]
    }

    /// Exports a session (live or archived) and imports the document under a new id, or over another
    /// of the task's sessions with on_conflict 'replace'; the copy is active now.
    mutating func importCopy() async throws -> [String] {
        let all = sessions.keys.sorted()
        guard !all.isEmpty else { return try await create() }
        let source = all[Int.random(in: 0..<all.count, using: &random)]
        let replace = Bool.random(using: &random)
        let target = replace ? all[Int.random(in: 0..<all.count, using: &random)] : newID()
        history.append("import \(source) -> \(target)\(replace ? " replace" : "")")
        let rows = try await run.admin.superuserRows("""
            SELECT llm.import_session(
                     jsonb_set(jsonb_set(jsonb_set(llm.export_session($1), '{session,session_id}', to_jsonb($2::text)),
                                         '{session,last_query_at}', to_jsonb(now())),
                               '{session,parent_session_id}', 'null') #- '{session,parent_seq}',
                     $3) ->> 'status'
            """, [source, target, replace ? "replace" : "error"])
        let existed = sessions[target] != nil
        guard rows.first?.first == (existed ? "replaced" : "imported") else { throw fail("import returned \(rows)") }
        var copy = sessions[source]!
        copy.archived = false
        sessions[target] = copy
        return [source, target]
    }

    // MARK: - The shared sessions: every task at once

    mutating func sharedAppend() async throws -> [String] {
        let id = run.shared[Int.random(in: 0..<run.shared.count, using: &random)]
        // Request ids from a small pool shared by all tasks, so that replays collide across tasks.
        let requestID = Bool.random(using: &random) ? "shared-r\(Int.random(in: 0..<40, using: &random))" : nil
        history.append("shared append \(id) \(requestID ?? "-")")
        let appended = try await store.appendTurn(to: id, question: "shared", response: "r", tokens: 3, requestID: requestID)
        if appended.replayed {
            guard appended.turn.requestID == requestID, appended.turn.seq <= appended.turnCount
            else { throw fail("a replay returned \(appended)") }
        } else {
            guard appended.turn.seq == appended.turnCount else { throw fail("an append returned \(appended)") }
            run.count(append: id)
        }
        return []
    }

    mutating func sharedPop() async throws -> [String] {
        let id = run.shared[Int.random(in: 0..<run.shared.count, using: &random)]
        history.append("shared pop \(id)")
        if let popped = try await store.popTurn(from: id) {
            guard popped.turn.seq == popped.turnCount + 1 else { throw fail("a pop returned \(popped)") }
            run.count(pop: id)
        }
        return []
    }
}

extension SessionStore {
    /// Runs one statement as the superuser this store connects as, and returns its rows. Test use only.
    @discardableResult
    func superuserRows(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        try await withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> [[String?]] in
            try connection.ensureConnected()
            return try connection.query(sql, parameters).rows
        }
    }

    /// Runs `body` in one transaction on one connection, committing when it returns. Test use only.
    func superuserTransaction<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws(DatabaseFailure) -> T) async throws -> T {
        try await withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> T in
            try connection.ensureConnected()
            try connection.query("BEGIN")
            let result = try body(connection)
            try connection.query("COMMIT")
            return result
        }
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
