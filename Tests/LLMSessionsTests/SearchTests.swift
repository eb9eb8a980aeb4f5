import Foundation
import Testing
@testable import LLMSessions

@Suite("Full-text search over turns, and the indexer")
struct SearchTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    /// A word no other test writes: letters only, so the parser keeps it one word.
    static func uniqueWord() -> String {
        let letters = Array("abcdefghijklmnop")
        return "zq" + String(UUID().uuidString.compactMap { $0.hexDigitValue.map { letters[$0] } }.prefix(14))
    }

    @Test("searchTurns ranks matches, marks them in the snippet, filters by role and limits")
    func search() async throws {
        let word = Self.uniqueWord()
        try await TestDatabase.withCleanup(store) { created in
            let role = TestDatabase.uniqueID("search")
            let otherRole = TestDatabase.uniqueID("search-other")
            let a = created(TestDatabase.uniqueID("search-a"))
            let b = created(TestDatabase.uniqueID("search-b"))
            _ = try await store.createSession(agentRole: role, sessionID: a)
            _ = try await store.createSession(agentRole: otherRole, sessionID: b)
            try await store.appendTurn(to: a, question: "tell me about \(word)", response: "\(word) is a \(word), really", tokens: 1)
            try await store.appendTurn(to: a, question: "unrelated", response: "nothing here", tokens: 1)
            let other = Self.uniqueWord()
            try await store.appendTurn(to: b, question: "and \(word)?", response: other, tokens: 1)

            let hits = try await store.searchTurns(word)
            #expect(hits.map(\.sessionID).sorted() == [a, b].sorted())
            #expect(hits.first?.sessionID == a, "three mentions rank above one")
            #expect(hits.first?.seq == 1)
            #expect(hits.first?.agentRole == role)
            #expect(hits.allSatisfy { $0.rank > 0 && $0.snippet.contains("<b>\(word)</b>") }, "\(hits)")
            #expect(hits.map(\.rank) == hits.map(\.rank).sorted(by: >))

            #expect(try await store.searchTurns(word, agentRole: otherRole).map(\.sessionID) == [b])
            #expect(try await store.searchTurns(word, limit: 1).count == 1)
            #expect(try await store.searchTurns("\(word) -\(other)").map(\.sessionID) == [a], "web-search syntax")
            #expect(try await store.searchTurns("\"\(word) is\" or \(other)").map(\.sessionID).sorted() == [a, b].sorted())
        }
    }

    @Test("indexTurns stores vectors, after which search finds the same turns")
    func index() async throws {
        let word = Self.uniqueWord()
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("index"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            try await store.appendTurn(to: id, question: word, response: "r")
            let before = try await store.searchTurns(word)
            #expect(before.map(\.sessionID) == [id], "unindexed turns are found too")

            var indexed = 0
            repeat { indexed = try await store.indexTurns(batchSize: 100_000) } while indexed == 100_000
            let vector = try await TestDatabase.superuser(
                "SELECT (search_vector IS NOT NULL)::text FROM llm.turns WHERE session_id = $1", [id])
            #expect(vector.first?.first == "true")
            #expect(try await store.searchTurns(word) == before)
        }
    }

    @Test("a blank query or a limit outside 1...100 is invalidArgument", arguments: [("  ", 20, "query"), ("x", 0, "max_rows"), ("x", 101, "max_rows")])
    func invalid(query: String, limit: Int, word: String) async throws {
        do {
            _ = try await store.searchTurns(query, limit: limit)
            Issue.record("accepted \(query) / \(limit)")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message.contains(word), "\(message)")
        }
    }

    @Test("indexTurns refuses a batch size outside 1...100000")
    func indexInvalid() async throws {
        await #expect(throws: SessionStoreError.self) { try await store.indexTurns(batchSize: 0) }
    }
}
