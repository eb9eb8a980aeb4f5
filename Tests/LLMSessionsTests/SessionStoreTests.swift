import Foundation
import Testing
@testable import LLMSessions

@Suite("SessionStore against the real server")
struct SessionStoreTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore()
    }

    @Test("createSession returns the new session with every field decoded")
    func createSession() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("create"))
            let before = Date()
            let session = try await store.createSession(
                agentRole: "ceo", startupContext: "You are the CEO.", sessionID: id,
                metadata: ["team": "swift", "budget": 9_007_199_254_740_993, "ratio": 0.5, "tags": ["a", nil, true]]
            )

            #expect(session.sessionID == id)
            #expect(session.agentRole == "ceo")
            #expect(session.startupContext == "You are the CEO.")
            #expect(session.turnCount == 0)
            #expect(session.totalTokens == 0)
            #expect(session.conversationHistory.isEmpty)
            #expect(session.metadata == ["team": "swift", "budget": .integer(9_007_199_254_740_993), "ratio": 0.5, "tags": ["a", nil, true]])
            #expect(abs(session.createdAt.timeIntervalSince(before)) < 60, "clock of the local server")
            #expect(session.lastQueryAt >= session.createdAt)
        }
    }

    @Test("createSession without an id generates <role>_<unix seconds>_<6 digits>")
    func generatedID() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let suffix = UUID().uuidString.prefix(8).lowercased()
            let session = try await store.createSession(agentRole: "Gen Role! \(suffix)")
            created(session.sessionID)
            // <slug of the role>_<unix seconds>_<6 digits>
            let parts = session.sessionID.split(separator: "_").map(String.init)
            #expect(parts.count == 5, "\(session.sessionID)")
            #expect(parts.prefix(3) == ["gen", "role", suffix])
            let seconds = try #require(Double(parts[3]))
            #expect(abs(seconds - Date().timeIntervalSince1970) < 120)
            #expect(parts[4].count == 6 && parts[4].allSatisfy(\.isNumber))
            #expect(session.agentRole == "Gen Role! \(suffix)")
            #expect(session.startupContext == nil)
            #expect(session.metadata == [:])
        }
    }

    @Test("appendTurn stores turns in order and returns the new totals")
    func appendTurn() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("append"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)

            let first = try await store.appendTurn(to: id, question: "What is my role?", response: "You lead.", tokens: 795)
            #expect(first.sessionID == id)
            #expect(first.turn.seq == 1)
            #expect(first.turn.question == "What is my role?")
            #expect(first.turn.response == "You lead.")
            #expect(first.turn.tokens == 795)
            #expect(first.turn.requestID == nil)
            #expect(first.turnCount == 1)
            #expect(first.totalTokens == 795)
            #expect(first.replayed == false)

            let second = try await store.appendTurn(
                to: id, question: "Ünïcødé? 🚀", response: "Line 1\nLine 2\t'quoted' \"double\" \\ $1",
                tokens: 215, metadata: ["model": "m-1", "latency_ms": 12], expectedTurnCount: 1, requestID: "req-2"
            )
            #expect(second.turn.seq == 2)
            #expect(second.turnCount == 2)
            #expect(second.totalTokens == 1010)
            #expect(second.turn.requestID == "req-2")
            #expect(second.turn.metadata == ["model": "m-1", "latency_ms": 12])
            #expect(second.turn.timestamp >= first.turn.timestamp)

            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 2)
            #expect(session.totalTokens == 1010)
            #expect(session.conversationHistory.map(\.seq) == [1, 2])
            #expect(session.conversationHistory[1].question == "Ünïcødé? 🚀")
            #expect(session.conversationHistory[1].response == "Line 1\nLine 2\t'quoted' \"double\" \\ $1")
            #expect(session.conversationHistory[0] == first.turn, "the stored turn equals the appended one, timestamp to the microsecond")
            #expect(session.conversationHistory[1] == second.turn)
        }
    }

    @Test("a repeated requestID replays the stored turn and adds nothing")
    func requestIDReplay() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("replay"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)

            let original = try await store.appendTurn(to: id, question: "q", response: "r", tokens: 10, requestID: "once")
            let retried = try await store.appendTurn(to: id, question: "q", response: "r", tokens: 10, requestID: "once")
            #expect(original.replayed == false)
            #expect(retried.replayed == true)
            #expect(retried.turn == original.turn)
            #expect(retried.turnCount == 1)
            #expect(retried.totalTokens == 10)
            let session = try #require(try await store.session(id))
            #expect(session.turnCount == 1)
            #expect(session.conversationHistory.count == 1)
        }
    }

    @Test("session(lastN:) returns only the newest turns, oldest first; unknown ids give nil")
    func sessionLastN() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("lastn"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            for n in 1...5 {
                try await store.appendTurn(to: id, question: "q\(n)", response: "r\(n)", tokens: n)
            }
            let lastTwo = try #require(try await store.session(id, lastN: 2))
            #expect(lastTwo.conversationHistory.map(\.seq) == [4, 5])
            #expect(lastTwo.conversationHistory.map(\.question) == ["q4", "q5"])
            #expect(lastTwo.turnCount == 5)
            #expect(lastTwo.totalTokens == 15)
            let none = try #require(try await store.session(id, lastN: 0))
            #expect(none.conversationHistory.isEmpty)
            let all = try #require(try await store.session(id))
            #expect(all.conversationHistory.count == 5)

            #expect(try await store.session(TestDatabase.uniqueID("missing")) == nil)
        }
    }

    @Test("endSession removes the session and reports whether it existed")
    func endSession() async throws {
        let id = TestDatabase.uniqueID("end")
        _ = try await store.createSession(agentRole: "ceo", sessionID: id)
        try await store.appendTurn(to: id, question: "q", response: "r")
        #expect(try await store.endSession(id) == true)
        #expect(try await store.session(id) == nil)
        #expect(try await store.endSession(id) == false)
    }

    @Test("listSessions pages by cursor and visits each session exactly once")
    func listSessionsPaging() async throws {
        try await TestDatabase.withCleanup(store) { tracker in
            let role = TestDatabase.uniqueID("lister")
            var created: [String] = []
            for n in 0..<7 {
                let session = try await store.createSession(agentRole: role, sessionID: tracker("\(role)-\(n)"), metadata: ["n": .integer(Int64(n))])
                created.append(session.sessionID)
            }
            // Two sessions with the very same last_query_at: only the id breaks the tie. An hour back,
            // with microseconds, and well within every cleanup horizon other tests use.
            try await TestDatabase.superuser(
                "UPDATE llm.sessions SET last_query_at = date_trunc('second', now()) - interval '1 hour' + interval '0.123456 seconds' WHERE session_id = ANY($1::text[])",
                ["{\(created[2]),\(created[3])}"]
            )

            var seen: [String] = []
            var pages: [SessionPage] = []
            var cursor: SessionPage.Cursor?
            repeat {
                let page = try await store.listSessions(agentRole: role, limit: 3, after: cursor)
                pages.append(page)
                seen += page.sessions.map(\.sessionID)
                #expect(page.sessions.allSatisfy { $0.agentRole == role })
                cursor = page.next
            } while cursor != nil && pages.count < 10

            #expect(seen.count == 7)
            #expect(Set(seen) == Set(created))
            #expect(pages.map(\.sessions.count) == [3, 3, 1])
            #expect(pages.last?.next == nil)
            // Newest activity first, then id descending.
            let order = pages.flatMap(\.sessions).map { ($0.lastQueryAt, $0.sessionID) }
            #expect(zip(order, order.dropFirst()).allSatisfy { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 > $1.1) })
            let tied = pages.flatMap(\.sessions).filter { $0.sessionID == created[2] || $0.sessionID == created[3] }
            #expect(tied.count == 2)
            #expect(Set(tied.map(\.lastQueryAt)).count == 1, "\(tied)")
            #expect(tied.first.map { PostgresTimestamp.format($0.lastQueryAt).hasSuffix(".123456+00:00") } == true)
            #expect(pages.flatMap(\.sessions).first { $0.sessionID == created[5] }?.metadata == ["n": 5])
        }
    }

    @Test("listSessions without a role includes sessions of every role")
    func listAllRoles() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("anyrole"))
            _ = try await store.createSession(agentRole: TestDatabase.uniqueID("role"), sessionID: id)
            let page = try await store.listSessions(limit: 1000)
            #expect(page.sessions.contains { $0.sessionID == id })
        }
    }

    @Test("stats sums sessions, turns and tokens per role")
    func stats() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let role = TestDatabase.uniqueID("stats")
            let ids = ["\(role)-a", "\(role)-b"]
            for id in ids { _ = try await store.createSession(agentRole: role, sessionID: created(id)) }
            try await store.appendTurn(to: ids[0], question: "q", response: "r", tokens: 100)
            try await store.appendTurn(to: ids[0], question: "q", response: "r", tokens: 20)
            try await store.appendTurn(to: ids[1], question: "q", response: "r", tokens: 3)

            let stats = try await store.stats()
            let mine = try #require(stats.first { $0.agentRole == role })
            #expect(mine == RoleStats(agentRole: role, sessions: 2, turns: 3, tokens: 123))
        }
    }
}
