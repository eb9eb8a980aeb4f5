import Foundation
import Testing
@testable import LLMSessions

@Suite("Export and import of whole sessions")
struct ExportImportTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    /// A session with a context, metadata, a request id and texts that need escaping in JSON.
    func makeSession(_ id: String, role: String) async throws -> Session {
        _ = try await store.createSession(agentRole: role, startupContext: "You are\n\"the\" CEO.", sessionID: id, metadata: ["team": "swift", "n": 9_007_199_254_740_993])
        try await store.appendTurn(to: id, question: "line one\nline two", response: "ünïcödé 🚀 \\ \"quoted\"", tokens: 11, metadata: ["m": [1, 2]], requestID: "req-\(id)")
        try await store.appendTurn(to: id, question: "q2", response: "r2", tokens: 31)
        return try #require(try await store.session(id))
    }

    @Test("exportSession returns the server's document on one line, which decodes to the versioned format")
    func export() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("export"))
            _ = try await makeSession(id, role: TestDatabase.uniqueID("export-role"))
            let export = try #require(try await store.exportSession(id))
            #expect(export.sessionID == id)
            #expect(!export.json.contains("\n"), "one line, ready for JSON Lines")
            let server = try await TestDatabase.superuser("SELECT llm.export_session($1)::text", [id])
            // Byte for byte what the server writes, apart from exported_at.
            func withoutExportTime(_ text: String) -> String {
                text.replacingOccurrences(of: #""exported_at": "[^"]*""#, with: "", options: .regularExpression)
            }
            #expect(withoutExportTime(export.json) == withoutExportTime(try #require(server.first?.first ?? nil)))

            let document = try export.decoded()
            #expect(document["format"] == "llm-sessions/session")
            #expect(document["version"] == 1)
            #expect(document["session"]?["session_id"]?.stringValue == id)
            #expect(document["session"]?["archived_at"] == .null)
            guard case .array(let turns)? = document["turns"] else { Issue.record("no turns array"); return }
            #expect(turns.count == 2)
            #expect(turns.first?["question"] == "line one\nline two")
            #expect(turns.first?["request_id"]?.stringValue == "req-\(id)")
        }
        #expect(try await store.exportSession(TestDatabase.uniqueID("export-missing")) == nil)
    }

    @Test("an exported session imports back exactly")
    func roundTrip() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("roundtrip"))
            let original = try await makeSession(id, role: TestDatabase.uniqueID("roundtrip-role"))
            let export = try #require(try await store.exportSession(id))
            try await store.endSession(id)

            let result = try await store.importSession(export.json)
            #expect(result == ImportResult(sessionID: id, status: .imported, turns: 2))
            let imported = try #require(try await store.session(id))
            // get_session moves last_query_at; everything else is as it was.
            var expected = original
            expected.lastQueryAt = imported.lastQueryAt
            #expect(imported == expected)
        }
    }

    @Test("an id that exists: .error is duplicateSession, .skip changes nothing, .replace overwrites")
    func conflicts() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("conflict"))
            _ = try await makeSession(id, role: TestDatabase.uniqueID("conflict-role"))
            let export = try #require(try await store.exportSession(id))
            try await store.appendTurn(to: id, question: "after export", response: "r", tokens: 1)

            await #expect(throws: SessionStoreError.duplicateSession(sessionID: id)) {
                try await store.importSession(export.json)
            }
            #expect(try await store.importSession(export.json, onConflict: .skip) == ImportResult(sessionID: id, status: .skipped, turns: 0))
            #expect(try await store.session(id)?.turnCount == 3)

            #expect(try await store.importSession(export.json, onConflict: .replace) == ImportResult(sessionID: id, status: .replaced, turns: 2))
            let replaced = try #require(try await store.session(id))
            #expect(replaced.turnCount == 2)
            #expect(replaced.totalTokens == 42)
            #expect(replaced.conversationHistory.map(\.question) == ["line one\nline two", "q2"])
        }
    }

    @Test("a document that is not valid JSON or not a valid session document is invalidArgument, naming the field")
    func invalidDocuments() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let id = created(TestDatabase.uniqueID("invalid-doc"))
            _ = try await makeSession(id, role: TestDatabase.uniqueID("invalid-doc-role"))
            let export = try #require(try await store.exportSession(id))
            try await store.endSession(id)
            let wrongCount = export.json.replacingOccurrences(of: #""turn_count": 2"#, with: #""turn_count": 3"#)
            #expect(wrongCount != export.json)
            let cases: [(String, String)] = [
                ("{not json", "json"),
                (#"{"format": "something else", "version": 1}"#, "format"),
                (#"{"format": "llm-sessions/session", "version": 2}"#, "version"),
                (wrongCount, "turn_count"),
            ]
            for (document, word) in cases {
                do {
                    _ = try await store.importSession(document)
                    Issue.record("imported \(document)")
                } catch SessionStoreError.invalidArgument(let message) {
                    #expect(message.lowercased().contains(word), "\(message)")
                }
            }
            #expect(try await store.session(id) == nil, "nothing was imported")
            await #expect(throws: SessionStoreError.invalidArgument("document must not contain a NUL character (U+0000)")) {
                try await store.importSession("{\"a\": \"\u{0}\"}")
            }
        }
    }

    @Test("SessionJSON encodes an export and an import result with snake_case keys")
    func encoding() throws {
        #expect(try SessionJSON.encode(SessionExport(sessionID: "s", json: "{}")) == #"{"json":"{}","session_id":"s"}"#)
        #expect(try SessionJSON.encode(ImportResult(sessionID: "s", status: .replaced, turns: 2)) == #"{"session_id":"s","status":"replaced","turns":2}"#)
    }
}
