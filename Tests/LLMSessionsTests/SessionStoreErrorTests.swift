import Foundation
import Testing
@testable import LLMSessions

@Suite("Server errors become SessionStoreError cases a caller can act on")
struct SessionStoreErrorTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    /// Runs `body` and returns the `SessionStoreError` it threw, recording an issue if it threw none.
    private func storeError(_ body: () async throws -> Void) async -> SessionStoreError? {
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

    @Test("appending to an unknown session is notFound (P0002)")
    func notFound() async {
        let id = TestDatabase.uniqueID("ghost")
        let error = await storeError { try await store.appendTurn(to: id, question: "q", response: "r") }
        #expect(error == .notFound(sessionID: id))
        #expect(error?.description == "session \"\(id)\" not found")
    }

    @Test("a stale expectedTurnCount is a conflict carrying both counts (40001)")
    func conflict() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("conflict"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            try await store.appendTurn(to: id, question: "q1", response: "r1", expectedTurnCount: 0)
            try await store.appendTurn(to: id, question: "q2", response: "r2", expectedTurnCount: 1)

            let error = await storeError {
                try await store.appendTurn(to: id, question: "late", response: "r", expectedTurnCount: 1)
            }
            #expect(error == .conflict(sessionID: id, expected: 1, actual: 2))
            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 2, "the conflicting turn was not stored")
        }
    }

    @Test("negative tokens are an invalidArgument with the server's message (22023)")
    func negativeTokens() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("tokens"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let error = await storeError { try await store.appendTurn(to: id, question: "q", response: "r", tokens: -1) }
            guard case .invalidArgument(let message)? = error else {
                Issue.record("expected invalidArgument, got \(String(describing: error))")
                return
            }
            #expect(message.contains("tokens"), "\(message)")
        }
    }

    @Test("a negative lastN and an out-of-range page size are invalidArgument")
    func badLastNAndLimit() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("lastn"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let lastN = await storeError { _ = try await store.session(id, lastN: -1) }
            guard case .invalidArgument(let message)? = lastN else {
                Issue.record("expected invalidArgument, got \(String(describing: lastN))")
                return
            }
            #expect(message.contains("last_n"), "\(message)")

            for limit in [0, 1001] {
                let error = await storeError { _ = try await store.listSessions(limit: limit) }
                guard case .invalidArgument? = error else {
                    Issue.record("limit \(limit): expected invalidArgument, got \(String(describing: error))")
                    continue
                }
            }
        }
    }

    @Test("an integer beyond PostgreSQL's integer range is an invalidArgument (22003)")
    func outOfRange() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("range"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let error = await storeError {
                try await store.appendTurn(to: id, question: "q", response: "r", tokens: Int(Int32.max) + 1)
            }
            guard case .invalidArgument? = error else {
                Issue.record("expected invalidArgument, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("blank ids and non-object metadata are rejected by the server as invalidArgument")
    func blankAndNonObject() async {
        let blank = await storeError { _ = try await store.createSession(agentRole: "   ") }
        guard case .invalidArgument? = blank else {
            Issue.record("expected invalidArgument, got \(String(describing: blank))")
            return
        }
        let array = await storeError { _ = try await store.createSession(agentRole: "ceo", metadata: [1, 2]) }
        guard case .invalidArgument? = array else {
            Issue.record("expected invalidArgument, got \(String(describing: array))")
            return
        }
    }

    @Test("creating an existing session id is duplicateSession (23505)")
    func duplicateSession() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("dup"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let error = await storeError { _ = try await store.createSession(agentRole: "cfo", sessionID: id) }
            #expect(error == .duplicateSession(sessionID: id))
            #expect(try await store.session(id)?.agentRole == "ceo", "the original is untouched")
        }
    }

    @Test("strings containing NUL are rejected before anything is sent", arguments: ["question", "response", "requestID", "metadata"])
    func nulRejected(field: String) async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("nul"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            let error = await storeError {
                try await store.appendTurn(
                    to: id,
                    question: field == "question" ? "before\u{0}after" : "q",
                    response: field == "response" ? "a\u{0}" : "r",
                    metadata: field == "metadata" ? ["note": "x\u{0}y"] : [:],
                    requestID: field == "requestID" ? "\u{0}" : nil
                )
            }
            #expect(error == .invalidArgument("\(field) must not contain a NUL character (U+0000)"))
            #expect(try await store.session(id)?.turnCount == 0, "nothing was stored, not even a truncated text")
        }
        let inID = await storeError { _ = try await store.session("abc\u{0}def") }
        #expect(inID == .invalidArgument("sessionID must not contain a NUL character (U+0000)"))
    }

    @Test("other server errors keep SQLSTATE and message (42501 for a role without llm_admin)")
    func otherServerErrors() async throws {
        let conninfo = try TestDatabase.setup.get()
        guard !conninfo.hasPrefix("postgres") else { return }  // needs the keyword form to swap the user
        let role = TestDatabase.uniqueID("nopriv").replacingOccurrences(of: "-", with: "_")
        let password = "pw-\(role)"
        try await TestDatabase.superuser(
            "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE llm_app', $1::text, $2::text)", [role, password],
            thenExecute: true)
        var failure: (any Error)?
        do {
            let appConninfo = conninfo.split(separator: " ").filter { !$0.hasPrefix("user=") }.joined(separator: " ")
                + " user=\(role) password=\(password)"
            let appStore = SessionStore(configuration: ConnectionConfiguration(connectionString: appConninfo), poolSize: 1)
            // llm_app may list sessions but not read the per-role totals.
            _ = try await appStore.listSessions(agentRole: role, limit: 1)
            let error = await storeError { _ = try await appStore.stats() }
            if case .server(let serverError)? = error {
                #expect(serverError.sqlState == "42501")
                #expect(!serverError.message.isEmpty)
                #expect(error?.description.contains("42501") == true)
            } else {
                Issue.record("expected server(42501), got \(String(describing: error))")
            }
            #expect(!appStore.configuration.description.contains(password), "the password never shows")
            await appStore.close()
        } catch {
            failure = error
        }
        try await TestDatabase.superuser("SELECT format('DROP ROLE %I', $1::text)", [role], thenExecute: true)
        if let failure { throw failure }
    }
}
