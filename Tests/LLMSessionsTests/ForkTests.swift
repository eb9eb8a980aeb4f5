import Foundation
import Testing
@testable import LLMSessions

@Suite("Undo (popTurn) and forks")
struct ForkTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    @Test("popTurn removes the newest turn and returns it with the new totals; nil when there is none")
    func pop() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("pop"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: id)
            #expect(try await store.popTurn(from: id) == nil)
            try await store.appendTurn(to: id, question: "q1", response: "r1", tokens: 3)
            try await store.appendTurn(to: id, question: "q2", response: "r2", tokens: 4, requestID: "req-\(id)")

            let popped = try #require(try await store.popTurn(from: id))
            #expect(popped.sessionID == id)
            #expect(popped.turn.seq == 2)
            #expect(popped.turn.question == "q2")
            #expect(popped.turn.requestID == "req-\(id)")
            #expect(popped.turnCount == 1)
            #expect(popped.totalTokens == 3)
            #expect(popped.replayed == false)
            #expect(try await store.session(id)?.conversationHistory.map(\.seq) == [1])

            // The request id is free again: the same append is new, not a replay.
            let again = try await store.appendTurn(to: id, question: "q2'", response: "r2'", tokens: 5, requestID: "req-\(id)")
            #expect(again.replayed == false && again.turn.seq == 2)
        }
        let missing = TestDatabase.uniqueID("pop-missing")
        await #expect(throws: SessionStoreError.notFound(sessionID: missing)) { try await store.popTurn(from: missing) }
    }

    @Test("forkSession copies the first atSeq turns into a new session linked to its parent")
    func fork() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let parent = created(TestDatabase.uniqueID("parent"))
            let role = TestDatabase.uniqueID("fork-role")
            _ = try await store.createSession(agentRole: role, startupContext: "ctx", sessionID: parent, metadata: ["k": 1])
            for n in 1...3 { try await store.appendTurn(to: parent, question: "q\(n)", response: "r\(n)", tokens: n) }

            let forkID = created(TestDatabase.uniqueID("fork"))
            let fork = try await store.forkSession(parent, atSeq: 2, newSessionID: forkID)
            #expect(fork.sessionID == forkID)
            #expect(fork.agentRole == role && fork.startupContext == "ctx" && fork.metadata == ["k": 1])
            #expect(fork.parentSessionID == parent)
            #expect(fork.parentSeq == 2)
            #expect(fork.turnCount == 2 && fork.totalTokens == 3)
            #expect(fork.conversationHistory.map(\.question) == ["q1", "q2"])

            // Parent and fork go their own ways.
            try await store.appendTurn(to: forkID, question: "alt", response: "r", tokens: 1)
            #expect(try await store.session(parent)?.turnCount == 3)
            let listed = try await store.listSessions(agentRole: role)
            let summary = try #require(listed.sessions.first { $0.sessionID == forkID })
            #expect(summary.parentSessionID == parent && summary.parentSeq == 2)

            // Default: all turns, with a generated id.
            let whole = try await store.forkSession(parent)
            created(whole.sessionID)
            #expect(whole.sessionID != parent)
            #expect(whole.parentSeq == 3 && whole.turnCount == 3)
        }
    }

    @Test("forkSession errors: taken id, atSeq beyond the turns, unknown parent")
    func forkErrors() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let parent = created(TestDatabase.uniqueID("fork-errors"))
            let taken = created(TestDatabase.uniqueID("fork-taken"))
            _ = try await store.createSession(agentRole: "ceo", sessionID: parent)
            _ = try await store.createSession(agentRole: "ceo", sessionID: taken)
            try await store.appendTurn(to: parent, question: "q", response: "r")

            await #expect(throws: SessionStoreError.duplicateSession(sessionID: taken)) {
                try await store.forkSession(parent, newSessionID: taken)
            }
            do {
                _ = try await store.forkSession(parent, atSeq: 2)
                Issue.record("forked beyond the turns")
            } catch SessionStoreError.invalidArgument(let message) {
                #expect(message.contains("at_seq"), "\(message)")
            }
            let missing = TestDatabase.uniqueID("fork-missing")
            await #expect(throws: SessionStoreError.notFound(sessionID: missing)) {
                try await store.forkSession(missing, newSessionID: TestDatabase.uniqueID("fork-never"))
            }
        }
    }
}
