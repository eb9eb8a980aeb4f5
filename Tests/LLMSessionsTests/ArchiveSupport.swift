import Foundation
import Testing
@testable import LLMSessions

/// Archiving and purging for tests, without touching other tests' sessions.
///
/// `cleanupStale` and `purgeArchive` act on the whole database by age, so these helpers move the
/// test's own rows far further into the past (about 55 years) than any other suite does (they use
/// days to ten years), and pick limits that only such rows pass.
extension TestDatabase {
    /// How far `archive` moves sessions into the past, and the idle limit it cleans up with.
    static let ancientDays = 20_000
    static let ancientLimit: Duration = .seconds(19_000 * 86_400)

    /// Archives exactly these sessions (and any other test's older than 19,000 days) through `cleanupStale`.
    @discardableResult
    static func archive(_ sessionIDs: [String], with store: SessionStore) async throws -> CleanupResult {
        for id in sessionIDs { try await backdate(id, days: ancientDays) }
        return try await store.cleanupStale(maxIdle: ancientLimit, policy: .archive)
    }

    /// Runs `attempt` until it returns true, at most `times` times; returns whether it did.
    ///
    /// Other suites clean up by age at the same time (e.g. the CLI tests' `cleanup`), and any of
    /// them may delete or archive a session this test has just backdated, before this test's own
    /// cleanup reaches it. Backdating and cleaning up cannot be one transaction through the API,
    /// so the test sets its sessions up again and retries; `attempt` starts by removing leftovers.
    static func retryingAgeRaces(times: Int = 5, _ attempt: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<times {
            if try await attempt() { return true }
        }
        return false
    }

    /// Moves the archiving time of these archived sessions about 110 years into the past, so that
    /// `purgeArchive(olderThan: purgeLimit)` removes them and nothing another test archived.
    static func backdateArchiving(_ sessionIDs: [String]) async throws {
        for id in sessionIDs {
            try await superuser(
                "UPDATE llm.archived_sessions SET archived_at = now() - make_interval(days => 40000) WHERE session_id = $1", [id])
        }
    }

    /// The age limit for purging that only `backdateArchiving`'s sessions reach.
    static let purgeLimit: Duration = .seconds(39_000 * 86_400)

    /// Whether a session is in the archive.
    static func isArchived(_ sessionID: String) async throws -> Bool {
        try await !superuser("SELECT 1 FROM llm.archived_sessions WHERE session_id = $1", [sessionID]).isEmpty
    }

    /// Removes sessions from the archive (and the live tables) as the superuser: test cleanup only.
    static func removeEverywhere(_ sessionIDs: [String]) async throws {
        try await superuser("DELETE FROM llm.archived_sessions WHERE session_id = ANY ($1::text[])", [postgresArray(sessionIDs)])
        try await superuser("DELETE FROM llm.sessions WHERE session_id = ANY ($1::text[])", [postgresArray(sessionIDs)])
    }

    /// Runs `body`, then removes these sessions from the archive and the live tables, whether or not it threw.
    static func removingEverywhere(_ sessionIDs: [String], _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            try? await removeEverywhere(sessionIDs)
            throw error
        }
        try await removeEverywhere(sessionIDs)
    }

    /// A text array literal, `{"a","b"}`, for a `$n::text[]` parameter.
    static func postgresArray(_ values: [String]) -> String {
        let quoted = values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return "{" + quoted.joined(separator: ",") + "}"
    }
}
