import Foundation
import Testing
@testable import LLMSessions

@Suite("Usage views per role and per day")
struct UsageTests {
    let store: SessionStore

    init() throws {
        store = try TestDatabase.makeStore(poolSize: 2)
    }

    @Test("roleUsage and dailyUsage count a role's sessions, turns, tokens and pins")
    func usage() async throws {
        try await TestDatabase.withCleanup(store) { created in
            let role = TestDatabase.uniqueID("usage")
            let a = created(TestDatabase.uniqueID("usage-a"))
            let b = created(TestDatabase.uniqueID("usage-b"))
            _ = try await store.createSession(agentRole: role, sessionID: a)
            _ = try await store.createSession(agentRole: role, sessionID: b)
            try await store.appendTurn(to: a, question: "q", response: "r", tokens: 10)
            try await store.appendTurn(to: a, question: "q", response: "r", tokens: 20)
            try await store.appendTurn(to: b, question: "q", response: "r", tokens: 5)
            try await store.pinSession(b)

            let roles = try await store.roleUsage()
            #expect(roles.map(\.agentRole) == roles.map(\.agentRole).sorted())
            let mine = try #require(roles.first { $0.agentRole == role })
            #expect(mine == RoleUsage(agentRole: role, sessions: 2, turns: 3, tokens: 35, avgTurnsPerSession: 1.5,
                                      idleSessions: 0, activeSessions: 2, pinnedSessions: 1, archivedSessions: 0))

            let days = try await store.dailyUsage(days: 1)
            let today = try #require(try await TestDatabase.superuser("SELECT ((now() AT TIME ZONE 'UTC')::date)::text").first?.first ?? nil)
            #expect(days.allSatisfy { $0.day == today }, "one day: today only")
            #expect(days.first { $0.agentRole == role } == DailyUsage(day: today, agentRole: role, sessions: 2, turns: 3, tokens: 35))
            let month = try await store.dailyUsage()
            #expect(month.contains { $0.agentRole == role })
            #expect(month.map(\.day) == month.map(\.day).sorted(by: >), "newest day first")
        }
    }

    @Test("dailyUsage refuses a non-positive number of days")
    func invalidDays() async throws {
        await #expect(throws: SessionStoreError.invalidArgument("days must be positive, not 0")) {
            try await store.dailyUsage(days: 0)
        }
    }

    @Test("SessionJSON encodes usage rows with the views' column names")
    func encoding() throws {
        let row = DailyUsage(day: "2026-11-24", agentRole: "ceo", sessions: 1, turns: 2, tokens: 3)
        #expect(try SessionJSON.encode(row) == #"{"agent_role":"ceo","day":"2026-11-24","sessions":1,"tokens":3,"turns":2}"#)
        let role = RoleUsage(agentRole: "ceo", sessions: 1, turns: 2, tokens: 3, avgTurnsPerSession: 2,
                             idleSessions: 0, activeSessions: 1, pinnedSessions: 0, archivedSessions: 4)
        #expect(try SessionJSON.encode(role).contains(#""avg_turns_per_session":2"#))
    }
}
