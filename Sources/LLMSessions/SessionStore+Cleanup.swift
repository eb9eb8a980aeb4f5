import Foundation

extension SessionStore {
    /// Archives or deletes the unpinned sessions idle for longer than `maxIdle`, at most `batchSize`
    /// per statement, all in one transaction. Requires `llm_admin`. Beside live traffic, use `runCleanup`.
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

    /// Archives or deletes what `cleanupStale` would, but commits every batch on its own and
    /// pauses after each, so that it works at most `busyShare` of the time, in short bursts: the
    /// cleanup to run beside live traffic (`CALL llm.run_cleanup`). Requires `llm_admin`.
    ///
    /// `cleanupStale` runs all its batches in one transaction, which holds back the cleanup of
    /// every row live sessions update meanwhile and makes their appends wait; this never keeps a
    /// transaction open for longer than one batch. The server sizes each batch to work about
    /// 1 ms (from one session, growing at most twofold per batch, at most `batchSize`): a longer
    /// burst keeps the live calls that arrive meanwhile waiting for a CPU. It takes longer in all:
    /// after a batch that took `t`, it rests `t * (1 / busyShare - 1)` (as long again at 0.5, not
    /// at all at 1), holding one of the store's connections all along. A failing batch (or a lost
    /// connection) leaves the batches before it done.
    ///
    /// - Parameters:
    ///   - batchSize: the most sessions one committed batch takes (the default 1000, as in
    ///     `llm.run_cleanup`; batches are sized by time below it).
    ///   - policy: `.archive` (the default, as in `llm.run_cleanup`) keeps them in the archive,
    ///     whence `restoreSession` brings one back; `.delete` removes them for good.
    ///   - busyShare: the share of the time spent working, 0.01 to 1.
    /// - Throws: `.invalidArgument` when `maxIdle` is not positive, `batchSize` is outside
    ///   1...100000 or `busyShare` is outside 0.01...1.
    public func runCleanup(
        maxIdle: Duration = .seconds(3600), batchSize: Int = 1000, policy: CleanupPolicy = .archive,
        busyShare: Double = 0.5
    ) async throws -> CleanupResult {
        var bind = Bind()
        try bind.interval(maxIdle, "maxIdle")
        bind.integer(batchSize)
        try bind.text(policy.rawValue, "policy")
        bind.double(busyShare)
        // A procedure that COMMITs: it must not run inside a transaction block, and it does not
        // (a call is one Bind/Execute/Sync, whose implicit transaction the procedure may end).
        let removed = try await callInteger(
            "CALL llm.run_cleanup($1::interval, $2::integer, $3::text, $4::float8)", bind,
            retry: .never, context: CallContext(), field: "CleanupResult.removed"
        )
        return CleanupResult(removed: removed, maxIdle: maxIdle, policy: policy)
    }

    /// Schedules `llm.run_cleanup(maxIdle, policy)` as a pg_cron job, and the search indexer
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
