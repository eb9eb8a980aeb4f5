import Foundation

extension SessionStore {
    /// Archives or deletes the unpinned sessions idle for longer than `maxIdle`, at most `batchSize`
    /// per statement. Requires `llm_admin`.
    ///
    /// - Parameter policy: `.delete` (the default, as in `llm.cleanup_stale`) removes them for good;
    ///   `.archive` keeps them in the archive, whence `restoreSession` brings one back.
    /// - Throws: `.invalidArgument` when `maxIdle` is not positive or `batchSize` is outside 1...100000.
    public func cleanupStale(
        maxIdle: Duration = .seconds(3600), batchSize: Int = 1000, policy: CleanupPolicy = .delete
    ) async throws -> CleanupResult {
        var bind = Bind()
        try bind.interval(maxIdle, "maxIdle")
        bind.integer(batchSize)
        try bind.text(policy.rawValue, "policy")
        let removed = try await callInteger(
            "SELECT llm.cleanup_stale($1::interval, $2::integer, $3::text)", bind,
            retry: .never, context: CallContext(), field: "CleanupResult.removed"
        )
        return CleanupResult(removed: removed, maxIdle: maxIdle, policy: policy)
    }

    /// Schedules `llm.cleanup_stale(maxIdle, policy)` as a pg_cron job, and the search indexer
    /// `llm.index_turns()` every minute beside it (replacing earlier ones). Requires `llm_admin`.
    ///
    /// - Parameter policy: `.archive` by default: scheduled cleanup keeps what it removes until `purgeArchive`.
    /// - Throws: `.server` with SQLSTATE `0A000` and a hint when pg_cron is not installed.
    public func scheduleCleanup(
        schedule: String = "*/15 * * * *", maxIdle: Duration = .seconds(3600), policy: CleanupPolicy = .archive
    ) async throws -> CleanupSchedule {
        var bind = Bind()
        try bind.text(schedule, "schedule")
        try bind.interval(maxIdle, "maxIdle")
        try bind.text(policy.rawValue, "policy")
        return try await call(
            "SELECT llm.schedule_cleanup($1::text, $2::interval, $3::text)", bind, retry: .never, context: CallContext()
        )
    }

    /// Removes the pg_cron cleanup and indexer jobs; returns whether there was a cleanup job. Requires `llm_admin`.
    ///
    /// - Throws: `.server` with SQLSTATE `0A000` when pg_cron is not installed.
    @discardableResult
    public func unscheduleCleanup() async throws -> Bool {
        let value = try await callScalar(
            "SELECT llm.unschedule_cleanup()", Bind(), retry: .never, context: CallContext()
        )
        return value == "t"
    }

    /// Stores the full-text search vectors of up to `batchSize` turns not indexed yet; returns how
    /// many. Requires `llm_admin`.
    ///
    /// Appends leave the vector for later so that they stay cheap; `scheduleCleanup` runs this every
    /// minute through pg_cron. `searchTurns` finds unindexed turns too, only more slowly.
    ///
    /// - Throws: `.invalidArgument` when `batchSize` is outside 1...100000.
    public func indexTurns(batchSize: Int = 5000) async throws -> Int {
        var bind = Bind()
        bind.integer(batchSize)
        return try await callInteger(
            "SELECT llm.index_turns($1::integer)", bind, retry: .never, context: CallContext(), field: "indexed"
        )
    }
}
