import Foundation
import Testing
@testable import LLMSessions

@Suite("Context windows within a token budget")
struct ContextTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    /// A session with startup context "sys" and turns 1...5 of 10, 20, 30, 40, 50 tokens.
    func makeSession(_ id: String) async throws {
        _ = try await store.createSession(agentRole: TestDatabase.uniqueID("context"), startupContext: "sys", sessionID: id)
        for n in 1...5 {
            try await store.appendTurn(to: id, question: "q\(n)", response: "r\(n)", tokens: n * 10)
        }
    }

    @Test("the newest turns that fit, oldest first, after the system message")
    func window() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("context"))
            try await makeSession(id)
            let window = try #require(try await store.context(for: id, maxTokens: 100))
            #expect(window == ContextWindow(
                sessionID: id,
                messages: [
                    ChatMessage(role: .system, content: "sys"),
                    ChatMessage(role: .user, content: "q4"), ChatMessage(role: .assistant, content: "r4"),
                    ChatMessage(role: .user, content: "q5"), ChatMessage(role: .assistant, content: "r5"),
                ],
                turnsIncluded: 2, tokensIncluded: 90, turnsOmitted: 3, tokensOmitted: 60
            ))

            let everything = try #require(try await store.context(for: id, maxTokens: 150, systemPrompt: false))
            #expect(everything.messages.first == ChatMessage(role: .user, content: "q1"))
            #expect(everything.messages.count == 10)
            #expect(everything.turnsIncluded == 5 && everything.turnsOmitted == 0 && everything.tokensOmitted == 0)

            let none = try #require(try await store.context(for: id, maxTokens: 0))
            #expect(none.messages == [ChatMessage(role: .system, content: "sys")])
            #expect(none.turnsIncluded == 0 && none.turnsOmitted == 5 && none.tokensOmitted == 150)
        }
    }

    @Test("an unknown session has no window; a negative budget is invalidArgument")
    func edges() async throws {
        #expect(try await store.context(for: TestDatabase.uniqueID("context-missing"), maxTokens: 10) == nil)
        do {
            _ = try await store.context(for: "any", maxTokens: -1)
            Issue.record("accepted a negative budget")
        } catch SessionStoreError.invalidArgument(let message) {
            #expect(message.contains("max_tokens"), "\(message)")
        }
    }

    @Test("SessionJSON encodes a window as the server's shape")
    func encoding() throws {
        let window = ContextWindow(sessionID: "s", messages: [ChatMessage(role: .user, content: "hi")],
                                   turnsIncluded: 1, tokensIncluded: 2, turnsOmitted: 3, tokensOmitted: 4)
        #expect(try SessionJSON.encode(window) ==
                #"{"messages":[{"content":"hi","role":"user"}],"session_id":"s","tokens_included":2,"tokens_omitted":4,"turns_included":1,"turns_omitted":3}"#)
    }
}
