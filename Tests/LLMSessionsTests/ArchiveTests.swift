import Foundation
import Testing
@testable import LLMSessions

// Serialized: cleanup and purge act by age, so these tests would archive or delete each other's sessions.
@Suite("Pins, archiving cleanup, restore and purge", .serialized)
struct ArchiveTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    @Test("pinSession pins and unpins, leaves lastQueryAt alone, and shows in session and list")
    func pin() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let role = TestDatabase.uniqueID("pin")
            let id = created(TestDatabase.uniqueID("pin"))
            let session = try await store.createSession(agentRole: role, sessionID: id)
            #expect(session.pinned == false)

            let pinned = try await store.pinSession(id)
            #expect(pinned.pinned == true)
            #expect(pinned.sessionID == id)
            #expect(pinned.lastQueryAt == session.lastQueryAt, "pinning is not activity")
            let read = try #require(try await store.session(id))
            #expect(read.pinned == true)
            let listed = try await store.listSessions(agentRole: role)
            #expect(listed.sessions.map(\.pinned) == [true])

            #expect(try await store.pinSession(id, pinned: false).pinned == false)
            #expect(try await store.session(id)?.pinned == false)
        }
        let missing = TestDatabase.uniqueID("pin-missing")
        await #expect(throws: SessionStoreError.notFound(sessionID: missing)) {
            try await store.pinSession(missing)
        }
    }

    @Test("cleanupStale(policy: .archive) archives idle sessions but not pinned ones; an archived id stays taken")
    func archiveByCleanup() async throws {
        let role = TestDatabase.uniqueID("archive")
        let idle = TestDatabase.uniqueID("archive-idle")
        let pinned = TestDatabase.uniqueID("archive-pinned")
        try await TestDatabase.removingEverywhere([idle, pinned]) {
            var result = CleanupResult(removed: 0, maxIdle: nil)
            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([idle, pinned])
                _ = try await store.createSession(agentRole: role, startupContext: "ctx", sessionID: idle, metadata: ["k": 1])
                try await store.appendTurn(to: idle, question: "q1", response: "r1", tokens: 5, requestID: "req-1")
                try await store.appendTurn(to: idle, question: "q2", response: "r2", tokens: 7)
                _ = try await store.createSession(agentRole: role, sessionID: pinned)
                try await store.pinSession(pinned)
                result = try await TestDatabase.archive([idle, pinned], with: store)
                return try await TestDatabase.isArchived(idle) && result.removed >= 1
            }
            try #require(archived, "another suite's cleanup took the session every time")
            #expect(result.policy == .archive)
            #expect(result.removed >= 1)
            #expect(result.maxIdle == TestDatabase.ancientLimit)

            #expect(try await TestDatabase.isArchived(idle))
            #expect(try await store.session(idle) == nil, "archived sessions are invisible to the live API")
            #expect(try await store.session(pinned)?.pinned == true, "a pinned session is never archived")
            #expect(try await !TestDatabase.isArchived(pinned))

            // The archive keeps the id taken and refuses appends.
            await #expect(throws: SessionStoreError.notFound(sessionID: idle)) {
                try await store.appendTurn(to: idle, question: "q", response: "r")
            }
            await #expect(throws: SessionStoreError.duplicateSession(sessionID: idle)) {
                try await store.createSession(agentRole: role, sessionID: idle)
            }
            await #expect(throws: SessionStoreError.notFound(sessionID: idle)) {
                try await store.pinSession(idle)
            }
            // An archived session still exports, with archived_at set.
            let export = try #require(try await store.exportSession(idle))
            #expect(export.json.contains("\"archived_at\": \"") || export.json.contains("\"archived_at\":\""), "\(export.json)")
            #expect(try export.decoded()["session"]?["archived_at"] != .null)
            try await store.endSession(pinned)
        }
    }

    @Test("runCleanup archives idle sessions with their turns, batch by batch, and keeps pinned and fresh ones")
    func archiveByRunCleanup() async throws {
        let role = TestDatabase.uniqueID("run-cleanup")
        let idle = [TestDatabase.uniqueID("run-cleanup-idle"), TestDatabase.uniqueID("run-cleanup-idle")]
        let pinned = TestDatabase.uniqueID("run-cleanup-pinned")
        let fresh = TestDatabase.uniqueID("run-cleanup-fresh")
        try await TestDatabase.removingEverywhere(idle + [pinned, fresh]) {
            var result = CleanupResult(removed: 0, maxIdle: nil, policy: .delete)
            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere(idle + [pinned, fresh])
                for id in idle + [pinned, fresh] { _ = try await store.createSession(agentRole: role, sessionID: id) }
                try await store.appendTurn(to: idle[0], question: "q1", response: "r1", tokens: 5)
                try await store.appendTurn(to: idle[0], question: "q2", response: "r2", tokens: 7)
                try await store.appendTurn(to: pinned, question: "q", response: "r", tokens: 1)
                try await store.pinSession(pinned)
                for id in idle + [pinned] { try await TestDatabase.backdate(id, days: TestDatabase.ancientDays) }
                // Batches of one: every session is its own committed batch, with a pause after each.
                result = try await store.runCleanup(maxIdle: TestDatabase.ancientLimit, batchSize: 1)
                for id in idle {
                    if try await !TestDatabase.isArchived(id) { return false }
                }
                return true
            }
            try #require(archived, "another suite's cleanup took the sessions every time")
            #expect(result.policy == .archive, "archive is run_cleanup's default")
            #expect(result.maxIdle == TestDatabase.ancientLimit)
            #expect(result.removed >= 2, "counts both idle sessions (and any other suite's this old)")

            for id in idle { #expect(try await store.session(id) == nil, "\(id) is no longer live") }
            let turns = try await TestDatabase.superuser(
                "SELECT string_agg(question, ',' ORDER BY seq) FROM llm.archived_turns WHERE session_id = $1", [idle[0]])
            #expect(turns.first?.first == "q1,q2", "the turns moved with their session")
            #expect(try await store.session(pinned)?.pinned == true, "a pinned session is never archived")
            #expect(try await store.session(pinned)?.turnCount == 1)
            #expect(try await !TestDatabase.isArchived(pinned))
            #expect(try await store.session(fresh) != nil, "a fresh session stays")
            #expect(try await !TestDatabase.isArchived(fresh))
        }
    }

    @Test("restoreSession brings an archived session back exactly; twice is duplicateSession, unknown is notFound")
    func restore() async throws {
        let role = TestDatabase.uniqueID("restore")
        let id = TestDatabase.uniqueID("restore")
        try await TestDatabase.removingEverywhere([id]) {
            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                _ = try await store.createSession(agentRole: role, startupContext: "ctx", sessionID: id, metadata: ["k": "v"])
                try await store.appendTurn(to: id, question: "q1", response: "r1", tokens: 5, metadata: ["t": 1], requestID: "req-\(id)")
                try await store.appendTurn(to: id, question: "q2", response: "r2", tokens: 7)
                try await TestDatabase.archive([id], with: store)
                return try await TestDatabase.isArchived(id)
            }
            try #require(archived, "another suite's cleanup took the session every time")
            let before = try #require(try await TestDatabase.superuser(
                "SELECT to_jsonb(a) - 'archived_at' FROM llm.archived_sessions a WHERE session_id = $1", [id]).first?.first ?? nil)

            let summary = try await store.restoreSession(id)
            #expect(summary.sessionID == id)
            #expect(summary.agentRole == role)
            #expect(summary.turnCount == 2)
            #expect(summary.totalTokens == 12)
            #expect(summary.pinned == false)
            #expect(summary.metadata == ["k": "v"])
            let after = try #require(try await TestDatabase.superuser(
                "SELECT to_jsonb(s) FROM llm.sessions s WHERE session_id = $1", [id]).first?.first ?? nil)
            #expect(after == before, "every column as it was")
            let session = try #require(try await store.session(id))
            #expect(session.conversationHistory.map(\.question) == ["q1", "q2"])
            #expect(session.conversationHistory.first?.requestID == "req-\(id)")
            #expect(try await !TestDatabase.isArchived(id))

            // Live now: a second restore is refused as a duplicate; the request id replays.
            await #expect(throws: SessionStoreError.duplicateSession(sessionID: id)) {
                try await store.restoreSession(id)
            }
            let replay = try await store.appendTurn(to: id, question: "q1", response: "r1", tokens: 5, requestID: "req-\(id)")
            #expect(replay.replayed)
            let missing = TestDatabase.uniqueID("restore-missing")
            await #expect(throws: SessionStoreError.notFound(sessionID: missing)) {
                try await store.restoreSession(missing)
            }
            try await store.endSession(id)
        }
    }

    @Test("purgeArchive deletes archived sessions archived long enough ago, and nothing else")
    func purge() async throws {
        let role = TestDatabase.uniqueID("purge")
        let old = TestDatabase.uniqueID("purge-old")
        let recent = TestDatabase.uniqueID("purge-recent")
        try await TestDatabase.removingEverywhere([old, recent]) {
            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([old, recent])
                for id in [old, recent] {
                    _ = try await store.createSession(agentRole: role, sessionID: id)
                    try await store.appendTurn(to: id, question: "q", response: "r", tokens: 1)
                }
                try await TestDatabase.archive([old, recent], with: store)
                let oldArchived = try await TestDatabase.isArchived(old)
                let recentArchived = try await TestDatabase.isArchived(recent)
                return oldArchived && recentArchived
            }
            try #require(archived, "another suite's cleanup took the sessions every time")
            try await TestDatabase.backdateArchiving([old])

            let purged = try await store.purgeArchive(olderThan: TestDatabase.purgeLimit, batchSize: 1)
            #expect(purged >= 1)
            #expect(try await !TestDatabase.isArchived(old))
            #expect(try await store.exportSession(old) == nil, "gone for good")
            #expect(try await TestDatabase.isArchived(recent), "archived just now: kept")
            await #expect(throws: SessionStoreError.notFound(sessionID: old)) { try await store.restoreSession(old) }
            #expect(try await store.restoreSession(recent).turnCount == 1)
            try await store.endSession(recent)
        }
    }

    @Test("purgeArchive refuses a negative age and a bad batch size")
    func purgeInvalid() async throws {
        for (olderThan, batchSize) in [(Duration.seconds(-1), 1000), (.seconds(TestDatabase.ancientDays * 86_400 * 3), 0)] {
            do {
                _ = try await store.purgeArchive(olderThan: olderThan, batchSize: batchSize)
                Issue.record("accepted olderThan \(olderThan), batchSize \(batchSize)")
            } catch SessionStoreError.invalidArgument(let message) {
                #expect(message.contains(batchSize == 0 ? "batch_size" : "older_than"), "\(message)")
            }
        }
    }

    @Test("cleanupStale still deletes by default, and says so")
    func deleteIsDefault() async throws {
        let role = TestDatabase.uniqueID("delete-default")
        let id = TestDatabase.uniqueID("delete-default")
        try await TestDatabase.removingEverywhere([id]) {
            var result = CleanupResult(removed: 0, maxIdle: nil, policy: .archive)
            let deleted = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                _ = try await store.createSession(agentRole: role, sessionID: id)
                try await TestDatabase.backdate(id, days: TestDatabase.ancientDays)
                result = try await store.cleanupStale(maxIdle: TestDatabase.ancientLimit)
                // Another suite's archiving cleanup may have moved it first.
                let archived = try await TestDatabase.isArchived(id)
                return result.removed >= 1 && !archived
            }
            try #require(deleted, "another suite's cleanup took the session every time")
            #expect(result.policy == .delete)
            #expect(try await store.session(id) == nil)
        }
    }
}
