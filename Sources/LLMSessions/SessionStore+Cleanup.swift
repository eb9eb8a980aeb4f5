import Foundation

extension SessionStore {
    /// Removes sessions idle for longer than `maxIdle`, at most `batchSize` per statement. Requires `llm_admin`.
    ///
    /// - Throws: `.invalidArgument` when `maxIdle` is not positive or `batchSize` is outside 1...100000.
    public func cleanupStale(maxIdle: Duration = .seconds(3600), batchSize: Int = 1000) async throws -> CleanupResult {
        var bind = Bind()
        try bind.interval(maxIdle, "maxIdle")
        bind.integer(batchSize)
        let value = try await callScalar(
            "SELECT llm.cleanup_stale($1::interval, $2::integer)", bind, retry: .never, context: CallContext()
        )
        guard let value, let removed = Int(value) else {
            throw ResponseDecodingError(type: "CleanupResult", field: "removed", reason: "expected an integer, found \(value ?? "NULL")")
        }
        return CleanupResult(removed: removed, maxIdle: maxIdle)
    }

    /// Schedules `llm.cleanup_stale(maxIdle)` as a pg_cron job (replacing an earlier one). Requires `llm_admin`.
    ///
    /// - Throws: `.server` with SQLSTATE `0A000` and a hint when pg_cron is not installed.
    public func scheduleCleanup(schedule: String = "*/15 * * * *", maxIdle: Duration = .seconds(3600)) async throws -> CleanupSchedule {
        var bind = Bind()
        try bind.text(schedule, "schedule")
        try bind.interval(maxIdle, "maxIdle")
        return try await call(
            "SELECT llm.schedule_cleanup($1::text, $2::interval)", bind, retry: .never, context: CallContext()
        )
    }

    /// Removes the pg_cron cleanup job; returns whether there was one. Requires `llm_admin`.
    ///
    /// - Throws: `.server` with SQLSTATE `0A000` when pg_cron is not installed.
    @discardableResult
    public func unscheduleCleanup() async throws -> Bool {
        let value = try await callScalar(
            "SELECT llm.unschedule_cleanup()", Bind(), retry: .never, context: CallContext()
        )
        return value == "t"
    }
}
