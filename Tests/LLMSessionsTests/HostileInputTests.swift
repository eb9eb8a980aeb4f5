import Foundation
import Testing
@testable import LLMSessions

/// Hostile input from the Swift side: NUL in every string argument of every `SessionStore`
/// method, invalid UTF-8, 20 MiB texts, and the server's refusals, which reach Swift with the
/// very message `Tests/sql/hostile_inputs.sql` documents for SQL callers.
///
/// Text cannot hold U+0000 in PostgreSQL. From SQL, `chr(0)` raises 54000, `E'\x00'` 22021 and
/// `'"\u0000"'::jsonb` 22P05; a Swift `String` can hold U+0000, but libpq sends C strings and would
/// cut the value at it, so the client refuses it itself, before connecting or sending anything:
/// `SessionStoreError.invalidArgument("<argument> must not contain a NUL character (U+0000)")`.
@Suite("Hostile input through SessionStore and libpq")
struct HostileInputTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    /// One call of a store method with a hostile argument, and the argument name its refusal must give.
    struct Call: Sendable {
        var method: String
        var argument: String
        var run: @Sendable (SessionStore, String) async throws -> Void
    }

    /// Every string argument of every `SessionStore` method that sends one, each with a NUL in it.
    /// `existing` is the id of a live session of the test, for the arguments that are not the id.
    static let nulCalls: [Call] = {
        let nul = "tap\u{0}'); DROP TABLE llm.sessions; --"
        return [
            Call(method: "createSession", argument: "agentRole") { store, id in _ = try await store.createSession(agentRole: nul, sessionID: id + "-new") },
            Call(method: "createSession", argument: "startupContext") { store, id in
                _ = try await store.createSession(agentRole: "tap", startupContext: "before" + nul, sessionID: id + "-new")
            },
            Call(method: "createSession", argument: "sessionID") { store, id in _ = try await store.createSession(agentRole: "tap", sessionID: id + nul) },
            Call(method: "createSession", argument: "metadata") { store, id in
                _ = try await store.createSession(agentRole: "tap", sessionID: id + "-new", metadata: ["note": .string(nul)])
            },
            Call(method: "createSession", argument: "metadata") { store, id in
                _ = try await store.createSession(agentRole: "tap", sessionID: id + "-new", metadata: [nul: 1])
            },
            Call(method: "createSession", argument: "metadata") { store, id in
                _ = try await store.createSession(agentRole: "tap", sessionID: id + "-new", metadata: ["deep": [[.string(nul)]]])
            },
            Call(method: "appendTurn", argument: "sessionID") { store, id in try await store.appendTurn(to: id + nul, question: "q", response: "r") },
            Call(method: "appendTurn", argument: "question") { store, id in try await store.appendTurn(to: id, question: nul, response: "r") },
            Call(method: "appendTurn", argument: "response") { store, id in try await store.appendTurn(to: id, question: "q", response: nul) },
            Call(method: "appendTurn", argument: "metadata") { store, id in
                try await store.appendTurn(to: id, question: "q", response: "r", metadata: ["k": .string(nul)])
            },
            Call(method: "appendTurn", argument: "requestID") { store, id in
                try await store.appendTurn(to: id, question: "q", response: "r", requestID: nul)
            },
            Call(method: "session", argument: "sessionID") { store, id in _ = try await store.session(id + nul) },
            Call(method: "endSession", argument: "sessionID") { store, id in try await store.endSession(id + nul) },
            Call(method: "listSessions", argument: "agentRole") { store, _ in _ = try await store.listSessions(agentRole: nul) },
            Call(method: "listSessions", argument: "cursor.beforeID") { store, _ in
                _ = try await store.listSessions(limit: 1, after: SessionPage.Cursor(before: Date(), beforeID: nul))
            },
            Call(method: "pinSession", argument: "sessionID") { store, id in try await store.pinSession(id + nul) },
            Call(method: "restoreSession", argument: "sessionID") { store, id in try await store.restoreSession(id + nul) },
            Call(method: "popTurn", argument: "sessionID") { store, id in try await store.popTurn(from: id + nul) },
            Call(method: "forkSession", argument: "sessionID") { store, id in _ = try await store.forkSession(id + nul) },
            Call(method: "forkSession", argument: "newSessionID") { store, id in _ = try await store.forkSession(id, newSessionID: id + nul) },
            Call(method: "exportSession", argument: "sessionID") { store, id in _ = try await store.exportSession(id + nul) },
            Call(method: "importSession", argument: "document") { store, id in
                _ = try await store.importSession(#"{"format": "llm-sessions/session", "version": 1, "session": {"session_id": "\#(id)-imp"#
                                                  + nul + #""}, "turns": []}"#)
            },
            Call(method: "searchTurns", argument: "query") { store, _ in _ = try await store.searchTurns(nul) },
            Call(method: "searchTurns", argument: "agentRole") { store, _ in _ = try await store.searchTurns("q", agentRole: nul) },
            Call(method: "context", argument: "sessionID") { store, id in _ = try await store.context(for: id + nul, maxTokens: 100) },
            Call(method: "scheduleCleanup", argument: "schedule") { store, _ in _ = try await store.scheduleCleanup(schedule: "* * * * *" + nul) },
        ]
    }()

    @Test("every SessionStore method that sends a string has a case here")
    func everyStringArgumentIsCovered() {
        // The public methods with String (or JSONValue) parameters, as of this suite; a new one
        // should be added to nulCalls (and here).
        let expected: Set<String> = [
            "createSession.agentRole", "createSession.startupContext", "createSession.sessionID", "createSession.metadata",
            "appendTurn.sessionID", "appendTurn.question", "appendTurn.response", "appendTurn.metadata", "appendTurn.requestID",
            "session.sessionID", "endSession.sessionID", "listSessions.agentRole", "listSessions.cursor.beforeID",
            "pinSession.sessionID", "restoreSession.sessionID", "popTurn.sessionID", "forkSession.sessionID",
            "forkSession.newSessionID", "exportSession.sessionID", "importSession.document", "searchTurns.query",
            "searchTurns.agentRole", "context.sessionID", "scheduleCleanup.schedule",
        ]
        #expect(Set(Self.nulCalls.map { "\($0.method).\($0.argument)" }) == expected)
    }

    @Test("a NUL is refused before connecting: invalidArgument even when no server can be reached")
    func nulRefusedBeforeConnecting() async throws {
        // No server listens here: a call that got as far as connecting would fail with connectionLost.
        let offline = SessionStore(
            configuration: ConnectionConfiguration(connectionString: "host=/nonexistent/llm-sessions-hostile port=1 dbname=x connect_timeout=1"),
            poolSize: 1)
        defer { Task { await offline.close() } }
        do {
            _ = try await offline.session("tap-hostile-offline")
            Issue.record("the offline store reached a server")
        } catch let error as SessionStoreError {
            guard case .connectionLost = error else { Issue.record("offline store: \(error)"); return }
        }
        for call in Self.nulCalls {
            let error = await Self.storeError { try await call.run(offline, "tap-hostile-offline") }
            #expect(error == .invalidArgument("\(call.argument) must not contain a NUL character (U+0000)"),
                    "\(call.method)(\(call.argument):)")
        }
    }

    @Test("a NUL in any argument stores nothing: no session, no turn, no pin, no fork, no import")
    func nulStoresNothing() async throws {
        let role = TestDatabase.uniqueID("tap-hostile-nul")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, sessionID: id)
            try await store.appendTurn(to: id, question: "q", response: "r", tokens: 3, requestID: "rq")
            let before = try await Self.rows(like: role)
            for call in Self.nulCalls {
                let error = await Self.storeError { try await call.run(store, id) }
                #expect(error == .invalidArgument("\(call.argument) must not contain a NUL character (U+0000)"),
                        "\(call.method)(\(call.argument):)")
                #expect(try await Self.rows(like: role) == before, "\(call.method)(\(call.argument):) changed nothing")
            }
            // The rows above are the test's own; ids that start like ours but were cut at the NUL would show here.
            let cut = try await TestDatabase.superuser(
                "SELECT count(*)::text FROM llm.sessions WHERE session_id LIKE 'tap%' AND session_id LIKE $1 || '%' AND session_id <> $1",
                [id])
            #expect(cut.first?.first == "0", "no session under a truncated id")
            #expect(try await store.session(id)?.turnCount == 1, "the session is still usable")
            try await store.appendTurn(to: id, question: "q2", response: "r2")
            #expect(try await Self.rows(like: role) != before, "the row comparison is not blind: a real append shows")
        }
    }

    @Test("a document escaping NUL as \\u0000 reaches the server, which refuses it (22P05) as invalidArgument")
    func escapedNULInDocument() async throws {
        let role = TestDatabase.uniqueID("tap-hostile-esc")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, sessionID: id)
            try await store.appendTurn(to: id, question: "q", response: "r", tokens: 1)
            let document = try #require(try await store.exportSession(id)).json
                .replacingOccurrences(of: id, with: id + "-imp")
                .replacingOccurrences(of: #""question": "q""#, with: #""question": "a\u0000b""#)
            #expect(document.contains(#"a\u0000b"#), "the escape is in the document")
            let error = await Self.storeError { _ = try await store.importSession(document) }
            #expect(error == .invalidArgument("unsupported Unicode escape sequence"), "as from SQL: 22P05, same message")
            #expect(try await store.session(id + "-imp") == nil, "nothing was imported")
        }
    }

    // MARK: - Invalid UTF-8

    @Test("a Swift String cannot carry invalid UTF-8: decoding repairs it to U+FFFD, which is stored as such")
    func publicAPICannotSendInvalidUTF8() async throws {
        let bytes: [UInt8] = [0x61, 0xC3, 0x28, 0xFF, 0x62]  // "a", a truncated sequence, "(", an impossible byte, "b"
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(String(validating: bytes, as: UTF8.self) == nil, "the bytes are not UTF-8")
        #expect(Array(text.utf8) == [0x61, 0xEF, 0xBF, 0xBD, 0x28, 0xEF, 0xBF, 0xBD, 0x62], "the String holds U+FFFD instead")
        let role = TestDatabase.uniqueID("tap-hostile-utf8")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, sessionID: id)
            try await store.appendTurn(to: id, question: text, response: "r")
            let stored = try await TestDatabase.superuser(
                "SELECT encode(convert_to(question, 'UTF8'), 'hex') FROM llm.turns WHERE session_id = $1", [id])
            #expect(stored.first?.first == "61efbfbd28efbfbd62", "what is sent and stored is valid UTF-8")
        }
    }

    @Test("raw invalid UTF-8 (or NUL, in binary format) sent through libpq is refused by the server with 22021; nothing stored")
    func libpqInvalidBytesRefused() async throws {
        let role = TestDatabase.uniqueID("tap-hostile-raw")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, sessionID: id)
            let connection = try RawConnection(TestDatabase.setup.get())
            let sql = "SELECT llm.append_turn($1::text, $2::text, 'r')"

            // Text format: libpq sends a C string, so invalid bytes go as they are.
            let invalid = connection.execute(sql, [Array(id.utf8), [0x61, 0xC3, 0x28, 0x62]], binary: false)
            #expect(invalid.sqlState == "22021")
            #expect(invalid.message == #"invalid byte sequence for encoding "UTF8": 0xc3 0x28"#)
            let lone = connection.execute(sql, [Array(id.utf8), [0x80]], binary: false)
            #expect(lone.sqlState == "22021")
            #expect(lone.message == #"invalid byte sequence for encoding "UTF8": 0x80"#)
            // Binary format carries a length, so a NUL can be sent inside a value: refused the same way.
            let nul = connection.execute(sql, [Array(id.utf8), [0x61, 0x00, 0x62]], binary: true)
            #expect(nul.sqlState == "22021")
            #expect(nul.message == #"invalid byte sequence for encoding "UTF8": 0x00"#)
            // The same connection then appends a valid text: the refusals were statement errors only.
            let valid = connection.execute(sql, [Array(id.utf8), Array("ok".utf8)], binary: false)
            #expect(valid.sqlState == nil, "\(valid.message ?? "")")

            let turns = try await TestDatabase.superuser(
                "SELECT string_agg(question, ',' ORDER BY seq) FROM llm.turns WHERE session_id = $1", [id])
            #expect(turns.first?.first == "ok", "only the valid append was stored")
        }
    }

    // MARK: - Huge texts

    @Test("20 MiB texts are refused by the server (22023) as invalidArgument, and the connection stays usable")
    func hugeTextsRefused() async throws {
        let single = try TestDatabase.makeStore(poolSize: 1)  // one connection: every call below uses it
        defer { Task { await single.close() } }
        let huge = String(repeating: "x", count: 20 * 1024 * 1024)
        let tooBig = "is 20971520 bytes; the limit is 16 MiB (16777216 bytes)"
        let role = TestDatabase.uniqueID("tap-hostile-huge")
        try await TestDatabase.withCleanup(single) { created in
            let id = created(role + "-s")
            _ = try await single.createSession(agentRole: role, sessionID: id)
            let pid = try await Self.backendPID(single)

            var error = await Self.storeError { try await single.appendTurn(to: id, question: huge, response: "r") }
            #expect(error == .invalidArgument("question \(tooBig)"))
            error = await Self.storeError { try await single.appendTurn(to: id, question: "q", response: huge) }
            #expect(error == .invalidArgument("response \(tooBig)"))
            error = await Self.storeError { _ = try await single.createSession(agentRole: role, startupContext: huge, sessionID: id + "-big") }
            #expect(error == .invalidArgument("startup_context \(tooBig)"))
            error = await Self.storeError { _ = try await single.searchTurns(huge, agentRole: role) }
            #expect(error == .invalidArgument("query \(tooBig)"))

            #expect(try await Self.backendPID(single) == pid, "still the same connection: nothing was dropped")
            let appended = try await single.appendTurn(to: id, question: "after", response: "the refusals", tokens: 2)
            #expect(appended.turnCount == 1 && appended.totalTokens == 2, "the first turn stored is the one after the refusals")
            #expect(try await single.session(id + "-big") == nil)
        }
    }

    @Test("1 MiB texts of multi-byte characters go through SessionStore and come back byte for byte")
    func oneMiBRoundTrip() async throws {
        let text = String(repeating: "Grüße, 🦀\t\nx", count: 1024 * 1024 / 16)
        #expect(text.utf8.count == 1_048_576)
        let role = TestDatabase.uniqueID("tap-hostile-mib")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, startupContext: text, sessionID: id)
            try await store.appendTurn(to: id, question: text, response: text, metadata: ["note": .string(String(text.prefix(50_000)))])
            let session = try #require(try await store.session(id))
            #expect(session.startupContext == text)
            #expect(session.conversationHistory.first?.question == text)
            #expect(session.conversationHistory.first?.response == text)
            #expect(session.conversationHistory.first?.metadata == ["note": .string(String(text.prefix(50_000)))])
        }
    }

    // MARK: - The server's refusals, as SQL callers see them

    /// Bad arguments the server refuses, with the message `Tests/sql/hostile_inputs.sql` expects from SQL.
    static let serverRefusals: [(String, String, @Sendable (SessionStore, String) async throws -> Void)] = [
        ("agent_role empty", "agent_role must not be blank", { s, _ in _ = try await s.createSession(agentRole: "") }),
        ("agent_role of 101 characters", "agent_role is 101 characters long; the limit is 100",
         { s, _ in _ = try await s.createSession(agentRole: String(repeating: "r", count: 101)) }),
        ("session_id of 201 characters", "session_id is 201 characters long; the limit is 200",
         { s, _ in _ = try await s.createSession(agentRole: "tap hx", sessionID: String(repeating: "i", count: 201)) }),
        ("metadata an array", "metadata must be a JSON object, not array",
         { s, _ in _ = try await s.createSession(agentRole: "tap hx", metadata: []) }),
        ("metadata JSON null", "metadata must be a JSON object, not null",
         { s, _ in _ = try await s.createSession(agentRole: "tap hx", metadata: .null) }),
        ("tokens -1", "tokens must be between 0 and 2147483647, not -1",
         { s, id in try await s.appendTurn(to: id, question: "q", response: "r", tokens: -1) }),
        ("tokens 2147483648", #"value "2147483648" is out of range for type integer"#,
         { s, id in try await s.appendTurn(to: id, question: "q", response: "r", tokens: 2_147_483_648) }),
        ("expected_turn_count -1", "expected_turn_count must be between 0 and 2147483647, not -1",
         { s, id in try await s.appendTurn(to: id, question: "q", response: "r", expectedTurnCount: -1) }),
        ("request_id empty", "request_id must not be blank",
         { s, id in try await s.appendTurn(to: id, question: "q", response: "r", requestID: "") }),
        ("last_n -1", "last_n must be between 0 and 2147483647, not -1", { s, id in _ = try await s.session(id, lastN: -1) }),
        ("max_rows 0", "max_rows must be between 1 and 1000, not 0", { s, _ in _ = try await s.listSessions(limit: 0) }),
        ("list agent_role empty", "agent_role must not be blank", { s, _ in _ = try await s.listSessions(agentRole: "") }),
        ("max_tokens -1", "max_tokens must be between 0 and 2147483647, not -1", { s, id in _ = try await s.context(for: id, maxTokens: -1) }),
        ("at_seq -1", "at_seq must be between 0 and 2147483647, not -1", { s, id in _ = try await s.forkSession(id, atSeq: -1) }),
        ("search query spaces", "query must not be blank", { s, _ in _ = try await s.searchTurns("   ") }),
        ("search max_rows 101", "max_rows must be between 1 and 100, not 101", { s, _ in _ = try await s.searchTurns("q1", limit: 101) }),
        ("import an array", "invalid session document: it must be a JSON object, not array", { s, _ in _ = try await s.importSession("[]") }),
        ("import not JSON", "invalid input syntax for type json", { s, _ in _ = try await s.importSession(#"{"format": "#) }),
        ("import version 2", "unsupported session document version 2: this database reads version 1",
         { s, _ in _ = try await s.importSession(#"{"format": "llm-sessions/session", "version": 2}"#) }),
        ("max_idle -1 hour", "max_idle must be a positive interval, not -01:00:00", { s, _ in _ = try await s.cleanupStale(maxIdle: .seconds(-3600)) }),
        ("run_cleanup max_idle -1 hour", "max_idle must be a positive interval, not -01:00:00",
         { s, _ in _ = try await s.runCleanup(maxIdle: .seconds(-3600)) }),
        ("busy_share 0", "busy_share must be between 0.01 and 1, not 0", { s, _ in _ = try await s.runCleanup(busyShare: 0) }),
        ("older_than -1 day", "older_than must be an interval of zero or more, not -24:00:00",
         { s, _ in _ = try await s.purgeArchive(olderThan: .seconds(-86_400)) }),
        ("index batch_size 0", "batch_size must be between 1 and 100000, not 0", { s, _ in _ = try await s.indexTurns(batchSize: 0) }),
    ]

    @Test("the server's refusals reach Swift as invalidArgument with the same message as from SQL, and store nothing")
    func serverRefusalsAsFromSQL() async throws {
        let role = TestDatabase.uniqueID("tap-hostile-srv")
        try await TestDatabase.withCleanup(store) { created in
            let id = created(role + "-s")
            _ = try await store.createSession(agentRole: role, sessionID: id)
            try await store.appendTurn(to: id, question: "q", response: "r", tokens: 5)
            let before = try await Self.rows(like: role)
            for (label, message, call) in Self.serverRefusals {
                let error = await Self.storeError { try await call(store, id) }
                #expect(error == .invalidArgument(message), "\(label)")
                #expect(try await Self.rows(like: role) == before, "\(label): nothing changed")
            }
            // The other documented cases keep their own error types.
            #expect(await Self.storeError { try await store.appendTurn(to: id + "-none", question: "q", response: "r") }
                    == .notFound(sessionID: id + "-none"))
            #expect(await Self.storeError { try await store.appendTurn(to: id, question: "q", response: "r", expectedTurnCount: 0) }
                    == .conflict(sessionID: id, expected: 0, actual: 1))
            #expect(await Self.storeError { _ = try await store.createSession(agentRole: role, sessionID: id) }
                    == .duplicateSession(sessionID: id))
            #expect(try await Self.rows(like: role) == before)
        }
    }

    // MARK: - Helpers

    /// Runs `body` and returns the `SessionStoreError` it threw (recording an issue when it threw something else or nothing).
    static func storeError(_ body: () async throws -> Void) async -> SessionStoreError? {
        do {
            try await body()
            Issue.record("expected a SessionStoreError, but the call succeeded")
        } catch let error as SessionStoreError {
            return error
        } catch {
            Issue.record("expected a SessionStoreError, got \(type(of: error)): \(error)")
        }
        return nil
    }

    /// Every live and archived row of the sessions whose id or role starts with `prefix`, with their turns, as text.
    /// A turn's search_vector is left out: other suites run the indexer, which fills it in at any time.
    static func rows(like prefix: String) async throws -> [String] {
        let rows = try await TestDatabase.superuser("""
            SELECT x FROM (
              SELECT s::text AS x FROM llm.sessions s WHERE s.session_id LIKE $1 || '%' OR s.agent_role LIKE $1 || '%'
              UNION ALL SELECT (t.session_id, t.seq, t.question, t.response, t.tokens, t.metadata, t.request_id, t.created_at)::text
                FROM llm.turns t JOIN llm.sessions s USING (session_id)
                WHERE s.session_id LIKE $1 || '%' OR s.agent_role LIKE $1 || '%'
              UNION ALL SELECT a::text FROM llm.archived_sessions a WHERE a.session_id LIKE $1 || '%' OR a.agent_role LIKE $1 || '%'
              UNION ALL SELECT s.session_id FROM llm.sessions s WHERE s.parent_session_id LIKE $1 || '%'
            ) r ORDER BY x
            """, [prefix])
        return rows.map { $0.first.flatMap { $0 } ?? "NULL" }
    }

    /// The server pid of the connection a one-connection store uses.
    static func backendPID(_ store: SessionStore) async throws -> String? {
        try await store.withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) -> String? in
            try connection.ensureConnected()
            return try connection.query("SELECT pg_backend_pid()::text").singleValue
        }
    }
}

/// A bare libpq connection for sending bytes no Swift `String` can hold. Test use only.
///
/// libpq is reached through `dlsym` rather than `import CLibPQ`: an import of the C module in
/// one test file makes its C declarations (e.g. a second `strdup`) visible to overload
/// resolution in every file of the target.
final class RawConnection {
    private typealias ConnectDB = @convention(c) (UnsafePointer<CChar>) -> OpaquePointer?
    private typealias Status = @convention(c) (OpaquePointer?) -> Int32
    private typealias Finish = @convention(c) (OpaquePointer?) -> Void
    private typealias ErrorMessage = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?
    private typealias ExecParams = @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>, Int32, UnsafePointer<UInt32>?, UnsafePointer<UnsafePointer<CChar>?>?,
        UnsafePointer<Int32>?, UnsafePointer<Int32>?, Int32) -> OpaquePointer?
    private typealias ErrorField = @convention(c) (OpaquePointer?, Int32) -> UnsafePointer<CChar>?

    /// libpq's own values: CONNECTION_OK and PGRES_FATAL_ERROR.
    private static let connectionOK: Int32 = 0
    private static let fatalError: Int32 = 7

    private static func symbol<T>(_ name: String, as type: T.Type) throws -> T {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else {
            throw SessionStoreError.connectionLost("libpq's \(name) is not linked into the tests")
        }
        return unsafeBitCast(pointer, to: type)
    }

    private let handle: OpaquePointer
    private let finish: Finish
    private let execParams: ExecParams
    private let resultStatus: Status
    private let errorField: ErrorField
    private let clear: Finish

    struct Outcome {
        var sqlState: String?
        var message: String?
    }

    init(_ conninfo: String) throws {
        finish = try Self.symbol("PQfinish", as: Finish.self)
        execParams = try Self.symbol("PQexecParams", as: ExecParams.self)
        resultStatus = try Self.symbol("PQresultStatus", as: Status.self)
        errorField = try Self.symbol("PQresultErrorField", as: ErrorField.self)
        clear = try Self.symbol("PQclear", as: Finish.self)
        let connect = try Self.symbol("PQconnectdb", as: ConnectDB.self)
        let status = try Self.symbol("PQstatus", as: Status.self)
        let errorMessage = try Self.symbol("PQerrorMessage", as: ErrorMessage.self)
        guard let handle = conninfo.withCString({ connect($0) }) else { throw SessionStoreError.connectionLost("out of memory") }
        guard status(handle) == Self.connectionOK else {
            let message = errorMessage(handle).map { String(cString: $0) } ?? ""
            finish(handle)
            throw SessionStoreError.connectionLost(message)
        }
        self.handle = handle
    }

    deinit { finish(handle) }

    /// Runs `sql` with each parameter's bytes sent as they are: in text format (a C string, so no
    /// NUL), or in binary format as type text (with a length, so a NUL can be among them).
    func execute(_ sql: String, _ parameters: [[UInt8]], binary: Bool) -> Outcome {
        let copies: [UnsafeMutablePointer<CChar>] = parameters.map { bytes in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { buffer[index] = CChar(bitPattern: byte) }
            buffer[bytes.count] = 0
            return buffer
        }
        defer { copies.forEach { $0.deallocate() } }
        let values: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        let lengths = parameters.map { Int32($0.count) }
        let formats = parameters.map { _ in Int32(binary ? 1 : 0) }
        let types = parameters.map { _ in UInt32(25) }  // the oid of text
        let result = sql.withCString { execParams(handle, $0, Int32(parameters.count), types, values, lengths, formats, 0) }
        defer { clear(result) }
        guard resultStatus(result) == Self.fatalError else { return Outcome() }
        func field(_ code: Unicode.Scalar) -> String? {
            errorField(result, Int32(code.value)).map { String(cString: $0) }
        }
        return Outcome(sqlState: field("C"), message: field("M"))
    }
}
