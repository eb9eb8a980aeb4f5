import Foundation

extension SessionStore {
    /// The view `llm.role_usage`, one row per agent role, ordered by role. Requires `llm_admin`.
    ///
    /// Reads every session: for reports, not for a request path.
    public func roleUsage() async throws -> [RoleUsage] {
        try await call(
            "SELECT COALESCE(jsonb_agg(to_jsonb(u) ORDER BY u.agent_role), '[]'::jsonb) FROM llm.role_usage u",
            Bind(), retry: .onceAfterReconnect, context: CallContext()
        )
    }

    /// The view `llm.daily_usage` for the last `days` UTC days (today included), newest day first,
    /// then by role. Requires `llm_admin`.
    ///
    /// - Throws: `.invalidArgument` when `days` is not positive.
    public func dailyUsage(days: Int = 30) async throws -> [DailyUsage] {
        guard days > 0 else { throw SessionStoreError.invalidArgument("days must be positive, not \(days)") }
        var bind = Bind()
        bind.integer(days)
        return try await call(
            """
            SELECT COALESCE(jsonb_agg(to_jsonb(u) ORDER BY u.day DESC, u.agent_role), '[]'::jsonb)
            FROM llm.daily_usage u
            WHERE u.day > (now() AT TIME ZONE 'UTC')::date - $1::integer
            """,
            bind, retry: .onceAfterReconnect, context: CallContext()
        )
    }
}
